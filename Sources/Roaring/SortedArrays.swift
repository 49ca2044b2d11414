import CSortedArrays

/// Counting the values two sorted, duplicate-free arrays share, without building the intersection; and
/// uniting two such arrays eight values at a time.
///
/// Counting:
/// A merge that steps one value at a time costs a mispredicted branch (or, written without branches, a
/// load whose address depends on the last comparison) per value: ~4 ns, 30 µs for two 4,000-value arrays.
/// Instead (`CSortedArrays`, in C: Swift cannot name SSE4.2's string instructions), eight values of each
/// side are compared all against all in one instruction, and the side whose eighth value is smaller moves
/// on by eight: the blocks that can share a value meet exactly once, as in a merge. Four such merges over
/// quarters of the values run side by side (two arrays of ~3,900 values: 1.0 µs, where 512-bit comparisons
/// written in Swift took 1.6). When one side is much the shorter, each of its values is looked up in the
/// other by binary search instead.
enum SortedArrays {
    typealias Block = SIMD8<UInt16>

    static func intersectionCount(_ a: [UInt16], _ b: [UInt16]) -> Int {
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                let (small, large) = a.count <= b.count ? (a, b) : (b, a)
                if small.isEmpty { return 0 }
                if small.count &* 32 < large.count { return searchedCount(small, in: large) }
                return tagflow_shared_count_u16(a.baseAddress!, a.count, b.baseAddress!, b.count)
            }
        }
    }

    /// The sorted union of two sorted, duplicate-free arrays of eight values or more. A merge network sorts
    /// the eight values kept back with the next eight (taken from the side whose next value is smaller) and
    /// writes out the lower eight: no branch and no wait for a comparison before the next load. The values
    /// in both sides come out twice, side by side, and are dropped in a last pass.
    static func union(_ a: [UInt16], _ b: [UInt16]) -> [UInt16] {
        let n = a.count, m = b.count
        precondition(n >= 8 && m >= 8)
        return withUnsafeTemporaryAllocation(of: UInt16.self, capacity: n &+ m) { both in
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in mergeKeepingDuplicates(a, b, into: both) }
            }
            return [UInt16](unsafeUninitializedCapacity: n &+ m) { out, initialized in
                initialized = droppingDuplicates(UnsafeBufferPointer(both), into: out)
            }
        }
    }

    /// `a` and `b` merged into `out` (room for both), the values in both twice.
    private static func mergeKeepingDuplicates(_ a: UnsafeBufferPointer<UInt16>, _ b: UnsafeBufferPointer<UInt16>,
                                               into out: UnsafeMutableBufferPointer<UInt16>) {
        let n = a.count, m = b.count
        let pa = UnsafeRawPointer(a.baseAddress!), pb = UnsafeRawPointer(b.baseAddress!)
        let po = UnsafeMutableRawPointer(out.baseAddress!)
        var (low, high) = merged(signed(pa.loadUnaligned(as: Block.self)), signed(pb.loadUnaligned(as: Block.self)))
        po.storeBytes(of: unsigned(low), as: Block.self)
        var i = 8, j = 8, k = 8
        while i &+ 8 <= n, j &+ 8 <= m {
            let fromA = a[i] <= b[j]
            let x = pa.loadUnaligned(fromByteOffset: i &* 2, as: Block.self)
            let y = pb.loadUnaligned(fromByteOffset: j &* 2, as: Block.self)
            i &+= fromA ? 8 : 0
            j &+= fromA ? 0 : 8
            (low, high) = merged(high, signed(fromA ? x : y))
            po.storeBytes(of: unsigned(low), toByteOffset: k &* 2, as: Block.self)
            k &+= 8
        }
        // The eight kept back and what is left of each side, one value at a time (65,535 stands for an
        // exhausted source, and a real 65,535 is taken from a source that is not).
        let kept = unsigned(high)
        var h = 0
        while h < 8 || i < n || j < m {
            let x = h < 8 ? kept[h] : .max, y = i < n ? a[i] : .max, z = j < m ? b[j] : .max
            let v = min(x, y, z)
            if h < 8, x == v { h &+= 1 } else if i < n, y == v { i &+= 1 } else { j &+= 1 }
            out[k] = v
            k &+= 1
        }
    }

    /// The sorted `values` into `out`, each run of equal values once; how many were written. Into another
    /// buffer: written back into the same one, each load waited for the store just before it (two bytes
    /// apart), ~8 cycles a value. The count moves by arithmetic: a comparison became a branch, mispredicted
    /// at each duplicate.
    private static func droppingDuplicates(_ values: UnsafeBufferPointer<UInt16>, into out: UnsafeMutableBufferPointer<UInt16>) -> Int {
        let po = UnsafeMutableRawPointer(out.baseAddress!)
        var kept = 0
        var last = ~values[0]
        for v in values {
            po.storeBytes(of: v, toByteOffset: kept &* 2, as: UInt16.self)
            kept &+= (Int(v ^ last) &+ 0xFFFF) &>> 16  // 1 when they differ
            last = v
        }
        return kept
    }

    /// Values moved down by 32,768, so that their signed order is their order: x86 has signed comparisons
    /// of 16-bit lanes only (unsigned ones took a max and an equality each), and the network is mostly those.
    typealias SignedBlock = SIMD8<Int16>
    @_transparent static func signed(_ v: Block) -> SignedBlock { unsafeBitCast(v ^ 0x8000, to: SignedBlock.self) }
    @_transparent static func unsigned(_ v: SignedBlock) -> Block { unsafeBitCast(v, to: Block.self) ^ 0x8000 }

    /// Two sorted blocks as one sorted sequence of sixteen: its lower and upper eight.
    @_transparent
    private static func merged(_ x: SignedBlock, _ y: SignedBlock) -> (low: SignedBlock, high: SignedBlock) {
        // x followed by y reversed rises then falls; the lane-wise min and max split it into two such
        // sequences, every value of the first below every value of the second.
        let reversed = SignedBlock(y[7], y[6], y[5], y[4], y[3], y[2], y[1], y[0])
        return (sortedBitonic(minimum(x, reversed)), sortedBitonic(maximum(x, reversed)))
    }

    /// Sorts eight values that rise then fall: compare-exchange at distances 4, 2 and 1.
    @_transparent
    private static func sortedBitonic(_ v: SignedBlock) -> SignedBlock {
        var p = SignedBlock(v[4], v[5], v[6], v[7], v[0], v[1], v[2], v[3])
        var low = minimum(v, p), high = maximum(v, p)
        let s = SignedBlock(low[0], low[1], low[2], low[3], high[4], high[5], high[6], high[7])
        p = SignedBlock(s[2], s[3], s[0], s[1], s[6], s[7], s[4], s[5])
        low = minimum(s, p)
        high = maximum(s, p)
        let t = SignedBlock(low[0], low[1], high[2], high[3], low[4], low[5], high[6], high[7])
        p = SignedBlock(t[1], t[0], t[3], t[2], t[5], t[4], t[7], t[6])
        low = minimum(t, p)
        high = maximum(t, p)
        return SignedBlock(low[0], high[1], low[2], high[3], low[4], high[5], low[6], high[7])
    }

    // Written as selects, which compile to one vector instruction (`pointwiseMin` did not).
    @_transparent private static func minimum(_ x: SignedBlock, _ y: SignedBlock) -> SignedBlock { x.replacing(with: y, where: y .< x) }
    @_transparent private static func maximum(_ x: SignedBlock, _ y: SignedBlock) -> SignedBlock { x.replacing(with: y, where: y .> x) }

    /// Each value of `small` looked up in `large` by binary search, from where the last one was found.
    private static func searchedCount(_ small: UnsafeBufferPointer<UInt16>, in large: UnsafeBufferPointer<UInt16>) -> Int {
        var count = 0
        var low = 0
        for value in small {
            var high = large.count
            while low < high {
                let middle = (low &+ high) >> 1
                if large[middle] < value { low = middle &+ 1 } else { high = middle }
            }
            if low == large.count { break }
            count &+= large[low] == value ? 1 : 0
        }
        return count
    }
}
