/// The tags one pass of the engine still has to evaluate, taken in dependency order (tag index order: a
/// tag comes after every tag it refers to), so a tag marked while the pass runs — one referring to a tag
/// that just changed — is evaluated later in the same pass.
///
/// A bit per tag: the next marked tag is found a word of 64 tags at a time (a pass marks a few of a tag
/// set's tags, and scanning a flag per tag between them was ~2 % of the engine's time).
struct PendingTags {
    private var words: [UInt64]
    private let tagCount: Int
    /// No word before this one has a bit set; `Int.max` when none has.
    private var firstWord = Int.max
    /// No word after this one has a bit set.
    private var lastWord = -1

    init(tagCount: Int) {
        self.tagCount = tagCount
        words = Array(repeating: 0, count: (tagCount + 63) / 64)
    }

    var isEmpty: Bool { lastWord < 0 }

    mutating func mark(_ tag: Int) {
        let word = tag &>> 6
        words[word] |= 1 &<< UInt64(tag & 63)
        firstWord = min(firstWord, word)
        lastWord = max(lastWord, word)
    }

    mutating func markAll() {
        for tag in 0..<tagCount { mark(tag) }
    }

    /// The lowest marked tag, unmarked; nil when none is left.
    mutating func next() -> Int? {
        while firstWord <= lastWord {
            let bits = words[firstWord]
            if bits != 0 {
                words[firstWord] = bits & (bits &- 1)
                return firstWord &<< 6 | bits.trailingZeroBitCount
            }
            firstWord += 1
        }
        firstWord = .max
        lastWord = -1
        return nil
    }
}
