/// 65,536 bits in 1,024 words, and how many are set.
struct Bitset: Equatable, Sendable {
    static let wordCount = 1024

    var words: [UInt64]
    var cardinality: Int

    init() {
        words = [UInt64](repeating: 0, count: Self.wordCount)
        cardinality = 0
    }

    init(words: [UInt64]) {
        self.words = words
        cardinality = words.reduce(0) { $0 + $1.nonzeroBitCount }
    }

    init(words: [UInt64], cardinality: Int) {
        self.words = words
        self.cardinality = cardinality
    }

    init(sorted values: [UInt16]) {
        self.init()
        words.withUnsafeMutableBufferPointer { w in
            for v in values { w[Int(v >> 6)] |= 1 << UInt64(v & 63) }
        }
        cardinality = values.count
    }

    @inline(__always) func contains(_ value: UInt16) -> Bool {
        words[Int(value >> 6)] & (1 << UInt64(value & 63)) != 0
    }

    mutating func insert(_ value: UInt16) {
        let mask: UInt64 = 1 << UInt64(value & 63)
        if words[Int(value >> 6)] & mask == 0 {
            words[Int(value >> 6)] |= mask
            cardinality += 1
        }
    }

    mutating func remove(_ value: UInt16) {
        let mask: UInt64 = 1 << UInt64(value & 63)
        if words[Int(value >> 6)] & mask != 0 {
            words[Int(value >> 6)] &= ~mask
            cardinality -= 1
        }
    }

    /// Sets bits `from...through`.
    mutating func setRange(_ from: Int, _ through: Int) {
        var v = from
        while v <= through {
            let word = v >> 6, bit = v & 63
            let span = min(64 - bit, through - v + 1)
            let mask: UInt64 = span == 64 ? ~0 : ((1 << UInt64(span)) - 1) << UInt64(bit)
            cardinality += (mask & ~words[word]).nonzeroBitCount
            words[word] |= mask
            v += span
        }
    }

    func sortedValues() -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: cardinality) { out, initialized in
            var n = 0
            words.withUnsafeBufferPointer { w in
                for i in 0..<w.count {
                    var rest = w[i]
                    while rest != 0 {
                        out[n] = UInt16(truncatingIfNeeded: i << 6 | rest.trailingZeroBitCount)
                        n &+= 1
                        rest &= rest &- 1
                    }
                }
            }
            initialized = n
        }
    }

    /// Sets the bits of `values` (or flips them, `toggling`), keeping the count without a branch per value.
    mutating func add(_ values: [UInt16], toggling: Bool) {
        var count = cardinality
        words.withUnsafeMutableBufferPointer { w in
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
        for (index, word) in words.enumerated() {
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
        for i in 0..<word { total += words[i].nonzeroBitCount }
        let bit = UInt64(value & 63)
        let mask: UInt64 = bit == 63 ? ~0 : (1 << (bit + 1)) - 1
        return total + (words[word] & mask).nonzeroBitCount
    }

    func select(_ index: Int) -> UInt16 {
        var left = index
        for (i, word) in words.enumerated() {
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
