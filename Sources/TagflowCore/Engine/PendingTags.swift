/// The tags one pass of the engine still has to evaluate, taken in dependency order (tag index order: a
/// tag comes after every tag it refers to), so a tag marked while the pass runs — one referring to a tag
/// that just changed — is evaluated later in the same pass.
///
/// A bit per tag: the next marked tag is found a word of 64 tags at a time (a pass marks a few of a tag
/// set's tags, and scanning a flag per tag between them was ~2 % of the engine's time).
///
/// A tag marked only by figures its condition rises with (or only by ones it falls with) is told apart
/// (``TagPolarity``): the pass may leave it unevaluated. Any other mark makes it a tag to evaluate.
struct PendingTags {
    private var words: [UInt64]
    /// Of the marked tags, those marked only as rising, and those marked only as falling.
    private var rising: [UInt64]
    private var falling: [UInt64]
    private let tagCount: Int
    /// No word before this one has a bit set; `Int.max` when none has.
    private var firstWord = Int.max
    /// No word after this one has a bit set.
    private var lastWord = -1

    init(tagCount: Int) {
        self.tagCount = tagCount
        words = Array(repeating: 0, count: (tagCount + 63) / 64)
        rising = words
        falling = words
    }

    var isEmpty: Bool { lastWord < 0 }

    /// Marks a tag to evaluate.
    mutating func mark(_ tag: Int) {
        let word = tag &>> 6
        let bit: UInt64 = 1 &<< UInt64(tag & 63)
        words[word] |= bit
        rising[word] &= ~bit
        falling[word] &= ~bit
        firstWord = min(firstWord, word)
        lastWord = max(lastWord, word)
    }

    /// Marks a tag as a figure its condition moves with (`polarity`) rose: unless marked otherwise too, the
    /// pass learns so from ``next()``.
    mutating func mark(_ tag: Int, _ polarity: TagPolarity) {
        guard polarity != .either else { return mark(tag) }
        let word = tag &>> 6
        let bit: UInt64 = 1 &<< UInt64(tag & 63)
        if words[word] & bit == 0 {
            words[word] |= bit
            if polarity == .rises { rising[word] |= bit } else { falling[word] |= bit }
            firstWord = min(firstWord, word)
            lastWord = max(lastWord, word)
        } else if polarity == .rises {
            falling[word] &= ~bit  // marked as falling before: now both ways
        } else {
            rising[word] &= ~bit
        }
    }

    mutating func markAll() {
        for tag in 0..<tagCount { mark(tag) }
    }

    /// The lowest marked tag, unmarked, with how it was marked (`.either`: to evaluate); nil when none is left.
    mutating func next() -> (tag: Int, polarity: TagPolarity)? {
        while firstWord <= lastWord {
            let bits = words[firstWord]
            if bits != 0 {
                let bit = bits & (0 &- bits)
                words[firstWord] = bits & ~bit
                var polarity = TagPolarity.either
                if rising[firstWord] & bit != 0 {
                    polarity = .rises
                    rising[firstWord] &= ~bit
                } else if falling[firstWord] & bit != 0 {
                    polarity = .falls
                    falling[firstWord] &= ~bit
                }
                return (firstWord &<< 6 | bits.trailingZeroBitCount, polarity)
            }
            firstWord += 1
        }
        firstWord = .max
        lastWord = -1
        return nil
    }
}
