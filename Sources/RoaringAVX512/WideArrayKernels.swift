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

    /// Moves on past the block whose last value is the smaller (both when equal): the blocks that can share
    /// a value meet exactly once, as in a merge.
    @inlinable @inline(__always)
    public mutating func advance(lastA: UInt16, lastB: UInt16) {
        i &+= lastA <= lastB ? 8 : 0
        j &+= lastB <= lastA ? 8 : 0
    }
}

/// The block merge of `Roaring`'s array intersections, for CPUs with AVX-512: eight values of each side
/// compared all against all in two 512-bit comparisons (the block of `b` in each 128-bit lane, the block of
/// `a` rotated by a different number of places in each), where 128-bit vectors take eight.
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
        while m0.canStep, m1.canStep, m2.canStep, m3.canStep {
            step(&m0, pa, pb, &matches)
            step(&m1, pa, pb, &matches)
            step(&m2, pa, pb, &matches)
            step(&m3, pa, pb, &matches)
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

    @inline(__always)
    static func step(_ merge: inout MergeCursor, _ pa: UnsafeRawPointer, _ pb: UnsafeRawPointer, _ matches: inout LaneCounts) {
        let x = pa.loadUnaligned(fromByteOffset: merge.i &* 2, as: Block.self)
        let y = pb.loadUnaligned(fromByteOffset: merge.j &* 2, as: Block.self)
        let y2 = SIMD16(lowHalf: y, highHalf: y)
        let y4 = SIMD32(lowHalf: y2, highHalf: y2)
        let first = SIMD32(lowHalf: SIMD16(lowHalf: x, highHalf: x.rotated(by: 1)),
                           highHalf: SIMD16(lowHalf: x.rotated(by: 2), highHalf: x.rotated(by: 3)))
        let second = SIMD32(lowHalf: SIMD16(lowHalf: x.rotated(by: 4), highHalf: x.rotated(by: 5)),
                            highHalf: SIMD16(lowHalf: x.rotated(by: 6), highHalf: x.rotated(by: 7)))
        // A true lane of a mask is -1.
        matches &-= unsafeBitCast(first .== y4, to: LaneCounts.self) &+ unsafeBitCast(second .== y4, to: LaneCounts.self)
        merge.advance(lastA: x[7], lastB: y[7])
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
