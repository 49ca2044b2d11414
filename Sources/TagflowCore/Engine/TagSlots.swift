/// The tags a profile keeps a slot for — it has the tag, or time can give it the tag — in one run of 8-byte
/// words: a bitmask of those tags, then a slot of three words per tag (its packed value, since when, when
/// time alone can next change it), in tag order.
///
/// A tag's slot is found by counting the bits below its own (no search, and no tag number in the slot: 24
/// bytes where a searched slot took 32). The mask is as long as the profile's highest tag needs: its first
/// word holds tags 0–47 and, in its top 16 bits, how many words the mask has; each further word holds 64
/// more tags. A profile with no slot keeps no memory.
struct TagSlots: ~Copyable {
    struct Slot {
        /// Packed (text in the engine's ``ValueTable``); null: the profile does not have the tag.
        var value: PackedValue
        var since: EpochMillis
        /// `.max`: time alone cannot change it.
        var due: EpochMillis
    }

    private var words = SmallBuffer<Int64>()

    private static let firstWordTags = 48
    private static let firstWordBits: UInt64 = 1 << 48 - 1
    private static let slotWords = 3

    init() {}

    /// How many words the mask has (0: no slot at all).
    private var maskWords: Int { words.isEmpty ? 0 : Int(UInt64(bitPattern: words[0]) >> 48) }

    private func mask(_ word: Int) -> UInt64 {
        let bits = UInt64(bitPattern: words[word])
        return word == 0 ? bits & Self.firstWordBits : bits
    }

    /// The word and bit of `tag` in the mask.
    @inline(__always) private static func place(of tag: Int) -> (word: Int, bit: UInt64) {
        guard tag >= firstWordTags else { return (0, 1 << UInt64(tag)) }
        let rest = tag - firstWordTags
        return (1 + rest >> 6, 1 << UInt64(rest & 63))
    }

    var count: Int { words.isEmpty ? 0 : (words.count - maskWords) / Self.slotWords }
    var isEmpty: Bool { words.isEmpty }

    /// Room for slots beyond those kept (for benchmarks).
    var spareSlots: Int { (words.capacity - words.count) / Self.slotWords }

    @inline(__always) func prefetch() { words.prefetch() }

    /// Whether the tag has a slot.
    @inline(__always) func contains(_ tag: Int) -> Bool {
        let (word, bit) = Self.place(of: tag)
        return word < maskWords && mask(word) & bit != 0
    }

    /// The place of the tag's slot among the slots, when it has one.
    func index(of tag: Int) -> Int? {
        let (word, bit) = Self.place(of: tag)
        guard word < maskWords, mask(word) & bit != 0 else { return nil }
        return rank(word, bit)
    }

    /// How many tags with a slot come before the one at `word`, `bit`.
    private func rank(_ word: Int, _ bit: UInt64) -> Int {
        var below = (mask(word) & (bit &- 1)).nonzeroBitCount
        for w in 0..<word { below &+= mask(w).nonzeroBitCount }
        return below
    }

    subscript(index: Int) -> Slot {
        get {
            let at = maskWords &+ index &* Self.slotWords
            return Slot(value: PackedValue(raw: words[at]), since: words[at &+ 1], due: words[at &+ 2])
        }
        set {
            let at = maskWords &+ index &* Self.slotWords
            words[at] = newValue.value.raw
            words[at &+ 1] = newValue.since
            words[at &+ 2] = newValue.due
        }
    }

    /// The due moment of the slot at `index` (read without the rest of it).
    @inline(__always) func due(at index: Int) -> EpochMillis { words[maskWords &+ index &* Self.slotWords &+ 2] }

    /// Gives `tag`, which has no slot, the slot `slot`.
    mutating func insert(_ tag: Int, _ slot: Slot) {
        let (word, bit) = Self.place(of: tag)
        if word >= maskWords { growMask(to: word + 1) }
        let index = rank(word, bit)
        words[word] = Int64(bitPattern: UInt64(bitPattern: words[word]) | bit)
        words.insert(repeating: 0, count: Self.slotWords, at: maskWords + index * Self.slotWords)
        self[index] = slot
    }

    /// Takes away the slot of `tag`, at `index`; a profile left with none keeps no memory.
    mutating func remove(_ tag: Int, at index: Int) {
        let (word, bit) = Self.place(of: tag)
        precondition(word < maskWords && mask(word) & bit != 0, "TagSlots: tag \(tag) has no slot")
        words[word] = Int64(bitPattern: UInt64(bitPattern: words[word]) & ~bit)
        if words.count - maskWords == Self.slotWords {
            words.removeAll()
            return
        }
        let at = maskWords + index * Self.slotWords
        words.removeSubrange(at..<(at + Self.slotWords))
    }

    /// Makes the mask `count` words long, the slots moved up.
    private mutating func growMask(to count: Int) {
        let old = maskWords
        words.insert(repeating: 0, count: count - old, at: old)
        let header = UInt64(bitPattern: words[0]) & Self.firstWordBits | UInt64(count) << 48
        words[0] = Int64(bitPattern: header)
    }

    /// Calls `body` with each tag that has a slot and its slot's place, in tag order.
    func forEachTag(_ body: (_ tag: Int, _ index: Int) -> Void) {
        var index = 0
        for word in 0..<maskWords {
            var bits = mask(word)
            let first = word == 0 ? 0 : Self.firstWordTags + (word - 1) * 64
            while bits != 0 {
                body(first + bits.trailingZeroBitCount, index)
                index += 1
                bits &= bits &- 1
            }
        }
    }

    mutating func shrinkToFit() { words.shrinkToFit() }
    mutating func shrinkIfSparse() { words.shrinkIfSparse() }
}
