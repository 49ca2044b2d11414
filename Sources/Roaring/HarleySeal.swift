/// Counting set bits over a whole bitset with few popcounts: the Harley–Seal method. Sixteen 256-bit vectors
/// go through a tree of carry-save adders, so only one vector in sixteen is popcounted (~30 % faster than
/// a popcount per word on a Haswell-class CPU).
typealias WordVector = SIMD4<UInt64>

enum HarleySeal {
    /// The set bits of one container's words.
    static func count(_ words: UnsafeBufferPointer<UInt64>) -> Int { count(Words(base: words)) }

    /// The set bits of two containers' words ANDed, without writing them.
    static func andCount(_ x: UnsafeBufferPointer<UInt64>, _ y: UnsafeBufferPointer<UInt64>) -> Int {
        count(BothWords(x: Words(base: x), y: Words(base: y)))
    }

    /// The set bits of the 256 vectors `source.vector(0)...source.vector(255)` (one 65,536-bit container).
    /// Generic rather than taking a closure: a specialised copy per source is certain, an inlined closure is
    /// not (when it was not inlined, a count took four times as long).
    @inline(__always)
    private static func count<Source: VectorSource>(_ source: Source) -> Int {
        func vector(_ index: Int) -> WordVector { source.vector(index) }
        var ones = WordVector(), twos = WordVector(), fours = WordVector(), eights = WordVector()
        var total = 0
        var i = 0
        while i < Bitset.wordCount / 4 {
            var twosA = WordVector(), twosB = WordVector(), foursA = WordVector(), foursB = WordVector()
            var eightsA = WordVector(), eightsB = WordVector(), sixteens = WordVector()
            (twosA, ones) = adder(ones, vector(i), vector(i + 1))
            (twosB, ones) = adder(ones, vector(i + 2), vector(i + 3))
            (foursA, twos) = adder(twos, twosA, twosB)
            (twosA, ones) = adder(ones, vector(i + 4), vector(i + 5))
            (twosB, ones) = adder(ones, vector(i + 6), vector(i + 7))
            (foursB, twos) = adder(twos, twosA, twosB)
            (eightsA, fours) = adder(fours, foursA, foursB)
            (twosA, ones) = adder(ones, vector(i + 8), vector(i + 9))
            (twosB, ones) = adder(ones, vector(i + 10), vector(i + 11))
            (foursA, twos) = adder(twos, twosA, twosB)
            (twosA, ones) = adder(ones, vector(i + 12), vector(i + 13))
            (twosB, ones) = adder(ones, vector(i + 14), vector(i + 15))
            (foursB, twos) = adder(twos, twosA, twosB)
            (eightsB, fours) = adder(fours, foursA, foursB)
            (sixteens, eights) = adder(eights, eightsA, eightsB)
            total &+= popcount(sixteens)
            i += 16
        }
        return 16 &* total &+ 8 &* popcount(eights) &+ 4 &* popcount(fours) &+ 2 &* popcount(twos) &+ popcount(ones)
    }

    /// A carry-save adder: (carries, sums) of three bit vectors.
    @inline(__always)
    static func adder(_ a: WordVector, _ b: WordVector, _ c: WordVector) -> (WordVector, WordVector) {
        let u = a ^ b
        return ((a & b) | (u & c), u ^ c)
    }

    @inline(__always)
    static func popcount(_ v: WordVector) -> Int {
        v[0].nonzeroBitCount &+ v[1].nonzeroBitCount &+ v[2].nonzeroBitCount &+ v[3].nonzeroBitCount
    }
}

/// Where the vectors HarleySeal counts come from.
protocol VectorSource {
    func vector(_ index: Int) -> WordVector
}

/// A container's words, four at a time.
struct Words: VectorSource {
    let base: UnsafeRawPointer

    init(base: UnsafeBufferPointer<UInt64>) { self.base = UnsafeRawPointer(base.baseAddress!) }

    @inline(__always)
    func vector(_ index: Int) -> WordVector { base.loadUnaligned(fromByteOffset: index &* 32, as: WordVector.self) }
}

/// Two containers' words ANDed, four at a time.
struct BothWords: VectorSource {
    let x: Words, y: Words

    @inline(__always)
    func vector(_ index: Int) -> WordVector { x.vector(index) & y.vector(index) }
}
