import Glibc

/// 65,536 bits in 1,024 words, and how many are set. The words sit on a 64-byte boundary, as wide vector
/// loads want (a load across two cache lines costs two: unaligned, the count of two containers' common bits
/// took ~12 % longer), and copies share them until one is changed.
struct Bitset: Equatable, Sendable {
    static let wordCount = 1024

    private var storage: AlignedWords
    var cardinality: Int

    init() {
        storage = AlignedWords()
        storage.base.initialize(repeating: 0, count: Self.wordCount)
        cardinality = 0
    }

    /// A bitset whose words `fill` writes, every one of them; `fill` returns how many bits it set.
    init(filling fill: (UnsafeMutableBufferPointer<UInt64>) throws -> Int) rethrows {
        storage = AlignedWords()
        cardinality = try fill(UnsafeMutableBufferPointer(start: storage.base, count: Self.wordCount))
    }

    init(sorted values: [UInt16]) {
        self.init()
        withMutableWords { w in
            for v in values { w[Int(v >> 6)] |= 1 << UInt64(v & 63) }
        }
        cardinality = values.count
    }

    static func == (a: Bitset, b: Bitset) -> Bool {
        a.cardinality == b.cardinality && (a.storage === b.storage || memcmp(a.storage.base, b.storage.base, 8 * wordCount) == 0)
    }

    /// The words, for reading while `body` runs.
    @inline(__always)
    func withWords<Result>(_ body: (UnsafeBufferPointer<UInt64>) throws -> Result) rethrows -> Result {
        try body(UnsafeBufferPointer(start: storage.base, count: Self.wordCount))  // `self` holds them meanwhile
    }

    /// The words, for changing while `body` runs (copied first when another bitset shares them).
    /// `body` keeps `cardinality` true, or the caller sets it after.
    @inline(__always)
    mutating func withMutableWords<Result>(_ body: (UnsafeMutableBufferPointer<UInt64>) throws -> Result) rethrows -> Result {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.base, count: Self.wordCount))
    }

    @inline(__always) subscript(word index: Int) -> UInt64 { storage.base[index] }

    @inline(__always) func contains(_ value: UInt16) -> Bool {
        self[word: Int(value >> 6)] & (1 << UInt64(value & 63)) != 0
    }

    mutating func insert(_ value: UInt16) {
        let mask: UInt64 = 1 << UInt64(value & 63)
        if self[word: Int(value >> 6)] & mask == 0 {
            withMutableWords { $0[Int(value >> 6)] |= mask }
            cardinality += 1
        }
    }

    mutating func remove(_ value: UInt16) {
        let mask: UInt64 = 1 << UInt64(value & 63)
        if self[word: Int(value >> 6)] & mask != 0 {
            withMutableWords { $0[Int(value >> 6)] &= ~mask }
            cardinality -= 1
        }
    }

    /// Sets bits `from...through`.
    mutating func setRange(_ from: Int, _ through: Int) {
        var added = 0
        withMutableWords { words in
            var v = from
            while v <= through {
                let word = v >> 6, bit = v & 63
                let span = min(64 - bit, through - v + 1)
                let mask: UInt64 = span == 64 ? ~0 : ((1 << UInt64(span)) - 1) << UInt64(bit)
                added += (mask & ~words[word]).nonzeroBitCount
                words[word] |= mask
                v += span
            }
        }
        cardinality += added
    }

    func sortedValues() -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: cardinality &+ Self.extractionSlack) { out, initialized in
            initialized = withWords { w in Self.extractAll(into: out.baseAddress!) { w[$0] } }
        }
    }

    /// Places past the last value that `extractAll` may write to (and leave unused).
    static let extractionSlack = 2

    /// Writes the values of the bits of the 1,024 words `word(0)...word(1023)`, in increasing order, at `out`,
    /// which must have room for `extractionSlack` more; returns how many. Stretches of zero words (common
    /// where values cluster) are passed over eight at a time.
    @inline(__always)
    static func extractAll(into out: UnsafeMutablePointer<UInt16>, _ word: (Int) -> UInt64) -> Int {
        var n = 0
        var i = 0
        while i < wordCount {
            var any: UInt64 = 0
            for k in 0..<8 { any |= word(i &+ k) }
            if any != 0 {
                for k in 0..<8 { extract(word(i &+ k), word: i &+ k, into: out, at: &n) }
            }
            i &+= 8
        }
        return n
    }

    /// Writes the values of the bits of `bits`, the `word`-th word, at `out[n...]`, moving `n` past them.
    /// The first two are written whether or not the word has them, and `n` moves only past those it has:
    /// a bitset's words mostly hold zero, one or two values, and a loop that stops when a word runs out
    /// guesses wrong at nearly every word of a sparse one (~15 cycles each time). So `out` must have room
    /// for `extractionSlack` more values than are written.
    @inline(__always)
    static func extract(_ bits: UInt64, word: Int, into out: UnsafeMutablePointer<UInt16>, at n: inout Int) {
        let base = word << 6
        var rest = bits
        out[n] = UInt16(truncatingIfNeeded: base | rest.trailingZeroBitCount)
        n &+= rest == 0 ? 0 : 1
        rest &= rest &- 1
        out[n] = UInt16(truncatingIfNeeded: base | rest.trailingZeroBitCount)
        n &+= rest == 0 ? 0 : 1
        rest &= rest &- 1
        while rest != 0 {
            out[n] = UInt16(truncatingIfNeeded: base | rest.trailingZeroBitCount)
            n &+= 1
            rest &= rest &- 1
        }
    }

    /// Sets the bits of `values` (or flips them, `toggling`), keeping the count without a branch per value.
    mutating func add(_ values: [UInt16], toggling: Bool) {
        var count = cardinality
        withMutableWords { w in
            values.withUnsafeBufferPointer { values in
                for v in values {
                    let k = Int(v >> 6), shift = UInt64(v & 63)
                    let old = w[k]
                    let wasClear = Int(truncatingIfNeeded: (~old >> shift) & 1)
                    if toggling {
                        w[k] = old ^ (1 << shift)
                        count &+= 2 &* wasClear &- 1
                    } else {
                        w[k] = old | (1 << shift)
                        count &+= wasClear
                    }
                }
            }
        }
        cardinality = count
    }

    func runs() -> [ValueRun] {
        var runs: [ValueRun] = []
        var start = -1  // the first value of the run being read, when inside one
        for index in 0..<Self.wordCount {
            let word = self[word: index]
            let base = index << 6
            var position = 0
            while position < 64 {
                if start < 0 {
                    let rest = word >> UInt64(position)
                    if rest == 0 { break }
                    position += rest.trailingZeroBitCount
                    start = base + position
                } else {
                    let rest = ~word >> UInt64(position)
                    if rest == 0 { break }  // ones to the end of the word: the run goes on
                    position += rest.trailingZeroBitCount
                    runs.append(ValueRun(start: UInt16(start), length: UInt16(base + position - 1 - start)))
                    start = -1
                }
            }
        }
        if start >= 0 { runs.append(ValueRun(start: UInt16(start), length: UInt16(65535 - start))) }
        return runs
    }

    func rank(_ value: UInt16) -> Int {
        let word = Int(value >> 6)
        var total = 0
        for i in 0..<word { total += self[word: i].nonzeroBitCount }
        let bit = UInt64(value & 63)
        let mask: UInt64 = bit == 63 ? ~0 : (1 << (bit + 1)) - 1
        return total + (self[word: word] & mask).nonzeroBitCount
    }

    func select(_ index: Int) -> UInt16 {
        var left = index
        for i in 0..<Self.wordCount {
            let word = self[word: i]
            let count = word.nonzeroBitCount
            if left < count {
                var rest = word
                for _ in 0..<left { rest &= rest - 1 }
                return UInt16(i << 6 | rest.trailingZeroBitCount)
            }
            left -= count
        }
        preconditionFailure("select beyond the cardinality")
    }
}

/// A bitset's words: 8 KB on a 64-byte boundary, freed with the last bitset that holds them. Changed only
/// through a bitset that holds them alone (`withMutableWords`), hence safe to share between threads.
private final class AlignedWords: @unchecked Sendable {
    let base: UnsafeMutablePointer<UInt64>
    private let allocation: UnsafeMutableRawPointer

    /// Uninitialised words.
    init() {
        allocation = malloc(8 * Bitset.wordCount + 48)!
        let aligned = (UInt(bitPattern: allocation) + 63) & ~63
        base = UnsafeMutableRawPointer(bitPattern: aligned)!.bindMemory(to: UInt64.self, capacity: Bitset.wordCount)
    }

    func copy() -> AlignedWords {
        let copy = AlignedWords()
        copy.base.initialize(from: base, count: Bitset.wordCount)
        return copy
    }

    deinit { free(allocation) }
}
