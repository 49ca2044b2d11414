/// The four set operations bitmaps combine with.
public enum SetOperation: Sendable {
    /// Values in both.
    case and
    /// Values in either.
    case or
    /// Values in exactly one.
    case xor
    /// Values in the first and not in the second.
    case andNot
}

extension Container {
    /// How many of `values` are in `bits`: four lookups at a time, in four independent sums.
    static func count(_ values: [UInt16], in bits: Bitset) -> Int {
        bits.withWords { w in
            values.withUnsafeBufferPointer { v in
                @inline(__always) func bit(_ value: UInt16) -> Int { Int(truncatingIfNeeded: (w[Int(value >> 6)] >> UInt64(value & 63)) & 1) }
                var s0 = 0, s1 = 0, s2 = 0, s3 = 0
                var i = 0
                while i &+ 4 <= v.count {
                    s0 &+= bit(v[i])
                    s1 &+= bit(v[i &+ 1])
                    s2 &+= bit(v[i &+ 2])
                    s3 &+= bit(v[i &+ 3])
                    i &+= 4
                }
                while i < v.count {
                    s0 &+= bit(v[i])
                    i &+= 1
                }
                return s0 &+ s1 &+ s2 &+ s3
            }
        }
    }

    /// The container of `op(self, other)`, possibly empty.
    func combined(with other: Container, _ op: SetOperation) -> Container {
        switch (self, other) {
        case (.array(let a), .array(let b)):
            // Through a bitset when both are long, and for OR / XOR only when the result is likely a bitset
            // (reading a sparse bitset back into an array costs more than the merge saves).
            if min(a.count, b.count) >= 128, op == .and || op == .andNot || a.count + b.count > Self.arrayLimit {
                return Self.combinedThroughBits(a, b, op)
            }
            if op == .or, min(a.count, b.count) >= 8 { return .from(sorted: SortedArrays.union(a, b)) }
            return .from(sorted: Self.merge(a, b, op))
        case (.bitset(let a), .bitset(let b)):
            if op == .and {
                // Intersections are usually small enough for an array: count first, and build an array
                // straight from the words when so, with no bitset in between.
                let count = Self.sharedBits(a, b)
                if count <= Self.arrayLimit { return .array(Self.values(a, b, op, count: count)) }
            }
            return .from(bitset: Self.words(a, b, op))
        case (.array(let a), .bitset(let b)):
            return Self.mixed(a, b, op, arrayFirst: true)
        case (.bitset(let a), .array(let b)):
            return Self.mixed(b, a, op, arrayFirst: false)
        case (.run(let a), .run(let b)) where op == .and || op == .or:
            let runs = op == .and ? Self.intersect(a, b) : Self.unite(a, b)
            return Container.run(runs).preferRuns()
        case (.run(let runs), .bitset(let bits)) where op == .and, (.bitset(let bits), .run(let runs)) where op == .and:
            return .from(bitset: Self.masked(bits, by: runs))
        case (.run(let runs), .array(let values)) where op == .and, (.array(let values), .run(let runs)) where op == .and:
            return .array(Self.inside(values, runs))
        case (.run, _), (_, .run):
            return self.plain().combined(with: other.plain(), op)
        }
    }

    /// The number of values of `op(self, other)`, without building it.
    @inline(__always)
    func combinedCount(with other: Container, _ op: SetOperation) -> Int {
        Self.count(op, both: intersectionCount(with: other), cardinality, other.cardinality)
    }

    /// The number of values of `op(a, b)` from the number they share and each one's.
    @inline(__always)
    static func count(_ op: SetOperation, both: Int, _ a: Int, _ b: Int) -> Int {
        switch op {
        case .and: both
        case .or: a + b - both
        case .xor: a + b - 2 * both
        case .andNot: a - both
        }
    }

    private func intersectionCount(with other: Container) -> Int {
        switch (self, other) {
        case (.array(let a), .array(let b)): return SortedArrays.intersectionCount(a, b)
        case (.array(let a), .bitset(let b)), (.bitset(let b), .array(let a)):
            return Self.count(a, in: b)
        case (.bitset(let a), .bitset(let b)): return Self.sharedBits(a, b)
        default: return plain().intersectionCount(with: other.plain())
        }
    }

    /// The values as an array or a bitset (runs converted).
    private func plain() -> Container {
        if case .run = self { return normalized() }
        return self
    }

    /// Keeps the run form when it is the smaller one.
    private func preferRuns() -> Container {
        guard case .run(let runs) = self else { return self }
        let count = cardinality
        return 2 + 4 * runs.count < (count <= Self.arrayLimit ? 2 * count : 8192) ? self : normalized()
    }

    // MARK: - Sorted arrays

    static func merge(_ a: [UInt16], _ b: [UInt16], _ op: SetOperation) -> [UInt16] {
        var out: [UInt16] = []
        out.reserveCapacity(op == .and ? min(a.count, b.count) : op == .andNot ? a.count : a.count + b.count)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                var i = 0, j = 0
                while i < a.count, j < b.count {
                    let x = a[i], y = b[j]
                    if x == y {
                        if op == .and || op == .or { out.append(x) }
                        i += 1
                        j += 1
                    } else if x < y {
                        if op != .and { out.append(x) }
                        i += 1
                    } else {
                        if op == .or || op == .xor { out.append(y) }
                        j += 1
                    }
                }
                if op != .and { out.append(contentsOf: a[i...]) }
                if op == .or || op == .xor { out.append(contentsOf: b[j...]) }
            }
        }
        return out
    }

    // MARK: - Bitsets

    static func words(_ a: Bitset, _ b: Bitset, _ op: SetOperation) -> Bitset {
        Bitset { out in
            a.withWords { x in b.withWords { y in BitsetKernels.combine(x, y, op, into: out) } }
        }
    }

    /// The values of `op(a, b)` (AND or AND-NOT), `count` of them, in increasing order.
    static func values(_ a: Bitset, _ b: Bitset, _ op: SetOperation, count: Int) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: count &+ Bitset.extractionSlack) { out, initialized in
            a.withWords { x in
                b.withWords { y in
                    initialized = Bitset.extractAll(into: out.baseAddress!) { op == .and ? x[$0] & y[$0] : x[$0] & ~y[$0] }
                }
            }
        }
    }

    /// The bits of `bits` inside the runs.
    static func masked(_ bits: Bitset, by runs: [ValueRun]) -> Bitset {
        var out = Bitset()
        var count = 0
        bits.withWords { x in
            out.withMutableWords { o in
                for run in runs {
                    let first = Int(run.start), last = Int(run.end)
                    for word in (first >> 6)...(last >> 6) {
                        let low = word == first >> 6 ? first & 63 : 0
                        let high = word == last >> 6 ? last & 63 : 63
                        let mask: UInt64 = (high - low == 63 ? ~0 : ((1 << UInt64(high - low + 1)) - 1)) << UInt64(low)
                        let w = x[word] & mask
                        count &+= (w & ~o[word]).nonzeroBitCount
                        o[word] |= w
                    }
                }
            }
        }
        out.cardinality = count
        return out
    }

    /// The values inside the runs.
    static func inside(_ values: [UInt16], _ runs: [ValueRun]) -> [UInt16] {
        var out: [UInt16] = []
        var r = 0
        for v in values {
            while r < runs.count, runs[r].end < v { r += 1 }
            if r == runs.count { break }
            if runs[r].start <= v { out.append(v) }
        }
        return out
    }

    /// The bits both bitsets have, counted.
    static func sharedBits(_ a: Bitset, _ b: Bitset) -> Int {
        a.withWords { x in b.withWords { y in BitsetKernels.andCount(x, y) } }
    }

    /// Two long arrays combined through a bitset made of one of them: marking and looking up a value costs
    /// ~1 ns, a merge ~4 ns a value (its branch is mispredicted every other value).
    private static func combinedThroughBits(_ a: [UInt16], _ b: [UInt16], _ op: SetOperation) -> Container {
        switch op {
        case .and:
            let (small, large) = a.count <= b.count ? (a, b) : (b, a)
            return .array(filter(large, Bitset(sorted: small), keeping: true))
        case .andNot:
            return .array(filter(a, Bitset(sorted: b), keeping: false))
        case .or, .xor:
            var bits = Bitset(sorted: a)
            bits.add(b, toggling: op == .xor)
            return .from(bitset: bits)
        }
    }

    /// An array and a bitset; `arrayFirst` says which operand the array is (for AND-NOT).
    private static func mixed(_ array: [UInt16], _ bits: Bitset, _ op: SetOperation, arrayFirst: Bool) -> Container {
        switch op {
        case .and:
            return .array(Self.filter(array, bits, keeping: true))
        case .or:
            var out = bits
            for v in array { out.insert(v) }
            return .from(bitset: out)
        case .xor:
            var out = bits
            for v in array { if out.contains(v) { out.remove(v) } else { out.insert(v) } }
            return .from(bitset: out)
        case .andNot where arrayFirst:
            return .array(Self.filter(array, bits, keeping: false))
        case .andNot:
            var out = bits
            for v in array { out.remove(v) }
            return .from(bitset: out)
        }
    }

    /// The values whose bit is set (`keeping`) or clear.
    private static func filter(_ array: [UInt16], _ bits: Bitset, keeping: Bool) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: array.count) { out, initialized in
            bits.withWords { w in
                // Without a branch: every value is written, and kept by moving on past it or not (a coin
                // toss of a branch would be mispredicted half the time).
                let flip = keeping ? 0 : 1
                var n = 0
                array.withUnsafeBufferPointer { values in
                    for v in values {
                        out[n] = v
                        n &+= Int((w[Int(v >> 6)] >> UInt64(v & 63)) & 1) ^ flip
                    }
                }
                initialized = n
            }
        }
    }

    // MARK: - Runs

    static func intersect(_ a: [ValueRun], _ b: [ValueRun]) -> [ValueRun] {
        var out: [ValueRun] = []
        var i = 0, j = 0
        while i < a.count, j < b.count {
            let start = max(a[i].start, b[j].start), end = min(a[i].end, b[j].end)
            if start <= end { out.append(ValueRun(start: start, length: end - start)) }
            if a[i].end < b[j].end { i += 1 } else { j += 1 }
        }
        return out
    }

    static func unite(_ a: [ValueRun], _ b: [ValueRun]) -> [ValueRun] {
        var out: [ValueRun] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            let next: ValueRun
            if j == b.count || (i < a.count && a[i].start <= b[j].start) {
                next = a[i]
                i += 1
            } else {
                next = b[j]
                j += 1
            }
            if let last = out.last, Int(next.start) <= Int(last.end) + 1 {
                if next.end > last.end { out[out.count - 1].length = next.end - last.start }
            } else {
                out.append(next)
            }
        }
        return out
    }
}
