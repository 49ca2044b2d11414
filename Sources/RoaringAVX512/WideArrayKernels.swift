/// Where one merge of two sorted, duplicate-free arrays of 16-bit values stands: `a[i..<endI]` against
/// `b[j..<endJ]`, stepped eight values at a time.
public struct MergeCursor: Sendable {
    public var i: Int, j: Int
    public let endI: Int, endJ: Int

    @inlinable
    public init(i: Int, j: Int, endI: Int, endJ: Int) {
        self.i = i
        self.j = j
        self.endI = endI
        self.endJ = endJ
    }

    /// Whether both sides have eight values left.
    @inlinable
    public var canStep: Bool { i &+ 8 <= endI && j &+ 8 <= endJ }

    /// How many steps surely find eight values left on both sides.
    @inlinable
    public var safeSteps: Int { min(endI &- i, endJ &- j) &>> 3 }

    /// Moves on past the block whose last value is the smaller (both when equal): the blocks that can share
    /// a value meet exactly once, as in a merge.
    @inlinable @inline(__always)
    public mutating func advance(lastA: UInt16, lastB: UInt16) {
        i &+= lastA <= lastB ? 8 : 0
        j &+= lastB <= lastA ? 8 : 0
    }
}

/// The block merge of `Roaring`'s array intersections, for CPUs with AVX-512: eight values of each side
/// compared all against all in two 512-bit comparisons, where 128-bit vectors take eight.
public enum WideArrayKernels {
    /// Steps the four merges in turn while every one can, then each alone while it can; returns the values
    /// the blocks compared share and leaves each cursor where its merge stopped (fewer than eight values left
    /// on one side).
    @inline(never)
    public static func countBlocks(
        _ a: UnsafePointer<UInt16>, _ b: UnsafePointer<UInt16>,
        _ merges: inout (MergeCursor, MergeCursor, MergeCursor, MergeCursor)
    ) -> Int {
        let pa = UnsafeRawPointer(a), pb = UnsafeRawPointer(b)
        var matches = LaneCounts()
        // In locals (registers), not through the tuple's memory: each step's loads wait on the last step's
        // positions.
        var (m0, m1, m2, m3) = merges
        // Rounds are taken in runs that cannot overstep any merge (a step moves a side by eight at most), so
        // the steps need no bounds checks (eight a round had cost about as much as the steps' own work).
        while true {
            let rounds = min(m0.safeSteps, m1.safeSteps, m2.safeSteps, m3.safeSteps)
            guard rounds > 0 else { break }
            for _ in 0..<rounds {
                step(&m0, pa, pb, &matches)
                step(&m1, pa, pb, &matches)
                step(&m2, pa, pb, &matches)
                step(&m3, pa, pb, &matches)
            }
        }
        while m0.canStep { step(&m0, pa, pb, &matches) }
        while m1.canStep { step(&m1, pa, pb, &matches) }
        while m2.canStep { step(&m2, pa, pb, &matches) }
        while m3.canStep { step(&m3, pa, pb, &matches) }
        merges = (m0, m1, m2, m3)
        return Int(matches.wrappedSum())
    }

    typealias Block = SIMD8<UInt16>
    /// A lane gains at most one a step; there are at most 4,096 values a side, hence under 1,024 steps.
    typealias LaneCounts = SIMD32<Int16>

    /// Lane 4g + t of `pairs` holds `b`'s value g + t places on (wrapping within the block): against the
    /// first four values of `a`, each repeated in every group of four lanes, the 32 lanes meet every pair of
    /// them once; against the last four, the other 32 pairs. A value of `b` equals at most one of `a`, so the
    /// two comparisons never both hold in one lane. One shuffle a step: the blocks of `a` are loaded already
    /// repeated.
    @inline(__always)
    static func step(_ merge: inout MergeCursor, _ pa: UnsafeRawPointer, _ pb: UnsafeRawPointer, _ matches: inout LaneCounts) {
        let y = pb.loadUnaligned(fromByteOffset: merge.j &* 2, as: Block.self)
        let low = pa.loadUnaligned(fromByteOffset: merge.i &* 2, as: UInt64.self)
        let high = pa.loadUnaligned(fromByteOffset: merge.i &* 2 &+ 8, as: UInt64.self)
        let pairs = SIMD32<UInt16>(
            y[0], y[1], y[2], y[3], y[1], y[2], y[3], y[4], y[2], y[3], y[4], y[5], y[3], y[4], y[5], y[6],
            y[4], y[5], y[6], y[7], y[5], y[6], y[7], y[0], y[6], y[7], y[0], y[1], y[7], y[0], y[1], y[2])
        let equal = unsafeBitCast(SIMD8(repeating: low), to: SIMD32<UInt16>.self) .== pairs
            .| unsafeBitCast(SIMD8(repeating: high), to: SIMD32<UInt16>.self) .== pairs
        matches &-= unsafeBitCast(equal, to: LaneCounts.self)  // a true lane is -1
        merge.advance(lastA: pa.loadUnaligned(fromByteOffset: merge.i &* 2 &+ 14, as: UInt16.self),
                      lastB: pb.loadUnaligned(fromByteOffset: merge.j &* 2 &+ 14, as: UInt16.self))
    }
}

extension SIMD8 {
    /// The lanes moved `places` (0...7) towards the front, the first ones wrapping to the back. Inlined into
    /// `Roaring` too, where it compiles for the caller's CPU.
    @inlinable @inline(__always)
    public func rotated(by places: Int) -> SIMD8 {
        switch places {
        case 0: self
        case 1: SIMD8(self[1], self[2], self[3], self[4], self[5], self[6], self[7], self[0])
        case 2: SIMD8(self[2], self[3], self[4], self[5], self[6], self[7], self[0], self[1])
        case 3: SIMD8(self[3], self[4], self[5], self[6], self[7], self[0], self[1], self[2])
        case 4: SIMD8(self[4], self[5], self[6], self[7], self[0], self[1], self[2], self[3])
        case 5: SIMD8(self[5], self[6], self[7], self[0], self[1], self[2], self[3], self[4])
        case 6: SIMD8(self[6], self[7], self[0], self[1], self[2], self[3], self[4], self[5])
        default: SIMD8(self[7], self[0], self[1], self[2], self[3], self[4], self[5], self[6])
        }
    }
}
