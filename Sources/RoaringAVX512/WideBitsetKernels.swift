/// The bitset loops of `Roaring` for CPUs with AVX-512 and its per-lane popcount (Intel from Ice Lake, AMD
/// from Zen 4). This module alone is compiled for them (Package.swift); `Roaring` calls it only when the CPU
/// says it runs such code (`CCPUFeatures`), and uses its own AVX2 loops otherwise. A popcount of eight words
/// is one instruction here, so no Harley–Seal adder tree is needed, and a combined bitset is counted as it
/// is written rather than read a second time.
///
/// Every function takes whole containers: 1,024 words (8 KB) at each pointer. None is inlined into its
/// caller, which is compiled for older CPUs.
public enum WideBitsetKernels {
    public static let wordCount = 1024

    /// The set bits two containers share, without writing them.
    @inline(never)
    public static func andCount(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer) -> Int {
        var total = Vector()
        for i in 0..<vectorCount { total &+= (load(x, i) & load(y, i)).nonzeroBitCount }
        return Int(total.wrappedSum())
    }

    /// How two containers' words are combined.
    public enum Operation: Sendable {
        case and, or, xor, andNot
    }

    /// `operation(x, y)` written to `out` (which may be `x`); returns its set bits.
    @inline(never)
    public static func combine(
        _ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ operation: Operation, into out: UnsafeMutableRawPointer
    ) -> Int {
        switch operation {
        case .and: combine(x, y, out, And.self)
        case .or: combine(x, y, out, Or.self)
        case .xor: combine(x, y, out, Xor.self)
        case .andNot: combine(x, y, out, AndNot.self)
        }
    }

    static let vectorCount = wordCount / 8

    @inline(__always)
    static func load(_ base: UnsafeRawPointer, _ index: Int) -> Vector {
        base.loadUnaligned(fromByteOffset: index &* 64, as: Vector.self)
    }

    /// Generic over the operation rather than taking a closure, so each gets its own specialised loop.
    @inline(__always)
    static func combine<Combination: WordOperation>(
        _ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ out: UnsafeMutableRawPointer, _: Combination.Type
    ) -> Int {
        var total = Vector()
        for i in 0..<vectorCount {
            let v = Combination.apply(load(x, i), load(y, i))
            out.storeBytes(of: v, toByteOffset: i &* 64, as: Vector.self)
            total &+= v.nonzeroBitCount
        }
        return Int(total.wrappedSum())
    }
}

/// Eight words: one 512-bit register.
typealias Vector = SIMD8<UInt64>

protocol WordOperation {
    static func apply(_ x: Vector, _ y: Vector) -> Vector
}

enum And: WordOperation {
    @inline(__always) static func apply(_ x: Vector, _ y: Vector) -> Vector { x & y }
}

enum Or: WordOperation {
    @inline(__always) static func apply(_ x: Vector, _ y: Vector) -> Vector { x | y }
}

enum Xor: WordOperation {
    @inline(__always) static func apply(_ x: Vector, _ y: Vector) -> Vector { x ^ y }
}

enum AndNot: WordOperation {
    @inline(__always) static func apply(_ x: Vector, _ y: Vector) -> Vector { x & ~y }
}
