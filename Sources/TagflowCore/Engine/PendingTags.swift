/// The tags one pass of the engine still has to evaluate, taken in dependency order (tag index order: a
/// tag comes after every tag it refers to), so a tag marked while the pass runs — one referring to a tag
/// that just changed — is evaluated later in the same pass.
///
/// A bit per tag: the next marked tag is found a word of 64 tags at a time (a pass marks a few of a tag
/// set's tags, and scanning a flag per tag between them was ~2 % of the engine's time).
///
/// A tag marked only by figures that rose comes with the values of it those keep (``FeatureReaders``): the
/// pass need not evaluate it when it has one. Any other mark makes it a tag to evaluate.
struct PendingTags {
    private var words: [UInt64]
    /// Per marked tag, the values its marks keep (a bit per case): 0 once it must be evaluated.
    private var keeps: [UInt64]
    private let tagCount: Int
    /// No word before this one has a bit set; `Int.max` when none has.
    private var firstWord = Int.max
    /// No word after this one has a bit set.
    private var lastWord = -1

    init(tagCount: Int) {
        self.tagCount = tagCount
        words = Array(repeating: 0, count: (tagCount + 63) / 64)
        keeps = Array(repeating: 0, count: tagCount)
    }

    var isEmpty: Bool { lastWord < 0 }

    /// Marks a tag to evaluate.
    mutating func mark(_ tag: Int) {
        mark(tag, keeping: 0)
    }

    /// Marks a tag as a figure it reads rose, which keeps the values `kept` (a bit per case).
    mutating func mark(_ tag: Int, keeping kept: UInt64) {
        let word = tag &>> 6
        let bit: UInt64 = 1 &<< UInt64(tag & 63)
        if words[word] & bit == 0 {
            words[word] |= bit
            keeps[tag] = kept
            firstWord = min(firstWord, word)
            lastWord = max(lastWord, word)
        } else {
            keeps[tag] &= kept
        }
    }

    mutating func markAll() {
        for tag in 0..<tagCount { mark(tag) }
    }

    /// The lowest marked tag, unmarked, with the values its marks keep (0: evaluate it); nil when none is left.
    mutating func next() -> (tag: Int, keeps: UInt64)? {
        while firstWord <= lastWord {
            let bits = words[firstWord]
            if bits != 0 {
                words[firstWord] = bits & (bits &- 1)
                let tag = firstWord &<< 6 | bits.trailingZeroBitCount
                return (tag, keeps[tag])
            }
            firstWord += 1
        }
        firstWord = .max
        lastWord = -1
        return nil
    }
}
