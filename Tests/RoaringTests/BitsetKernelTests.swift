import PropertyBased
import TagflowCore
import Testing

@testable import Roaring
@testable import RoaringAVX512

/// The two forms of the bitset loops — AVX2 with a Harley–Seal count, and AVX-512 with its popcount (used
/// when the CPU has it) — agree with a word-by-word reference for every operation, written elsewhere or in
/// place. Debug builds compile the AVX-512 module for any x86-64 CPU, so both forms are checked on every
/// machine; a release build checks the wide form only where the CPU runs it.
@Suite struct BitsetKernelTests {
    /// The AVX2 form, and the AVX-512 one where it can run.
    static let forms: [KernelForm] = {
        #if DEBUG
        return [KernelForm(wide: false), KernelForm(wide: true)]  // debug builds compile `RoaringAVX512` for any x86-64 CPU
        #else
        return WideKernels.available ? [KernelForm(wide: false), KernelForm(wide: true)] : [KernelForm(wide: false)]
        #endif
    }()

    struct KernelForm: Sendable {
        let wide: Bool
        var name: String { wide ? "AVX-512" : "AVX2" }

        func combine(_ x: UnsafeBufferPointer<UInt64>, _ y: UnsafeBufferPointer<UInt64>, _ op: SetOperation,
                     _ out: UnsafeMutableBufferPointer<UInt64>) -> Int {
            wide ? BitsetKernels.wideCombine(x.baseAddress!, y.baseAddress!, op, into: out.baseAddress!)
                : BitsetKernels.narrowCombine(x, y, op, into: out)
        }

        func andCount(_ x: UnsafeBufferPointer<UInt64>, _ y: UnsafeBufferPointer<UInt64>) -> Int {
            wide ? WideBitsetKernels.andCount(x.baseAddress!, y.baseAddress!) : HarleySeal.andCount(x, y)
        }
    }

    static func reference(_ x: UInt64, _ y: UInt64, _ op: SetOperation) -> UInt64 {
        switch op {
        case .and: x & y
        case .or: x | y
        case .xor: x ^ y
        case .andNot: x & ~y
        }
    }

    @Test func bothFormsAgreeWithWordByWord() async {
        await propertyCheck(count: 60, input: Gen.uint64()) { seed in
            var random = Random(seed: seed)
            // Empty, sparse, half and nearly full words, and all ones.
            func words() -> [UInt64] {
                let density = [0, 2, 50, 98, 100][random.int(0...4)]
                return (0..<Bitset.wordCount).map { _ in
                    (0..<64).reduce(UInt64(0)) { word, bit in random.chance(density) ? word | 1 << UInt64(bit) : word }
                }
            }
            let x = words(), y = words()
            let both = zip(x, y).reduce(0) { $0 + ($1.0 & $1.1).nonzeroBitCount }
            x.withUnsafeBufferPointer { x in
                y.withUnsafeBufferPointer { y in
                    for form in Self.forms {
                        #expect(form.andCount(x, y) == both, "\(form.name) AND count (seed \(seed))")
                        for op in [SetOperation.and, .or, .xor, .andNot] {
                            let expected = zip(x, y).map { Self.reference($0, $1, op) }
                            var out = [UInt64](repeating: 0, count: Bitset.wordCount)
                            let count = out.withUnsafeMutableBufferPointer { form.combine(x, y, op, $0) }
                            #expect(out == expected, "\(form.name) \(op) (seed \(seed))")
                            #expect(count == expected.reduce(0) { $0 + $1.nonzeroBitCount }, "\(form.name) \(op) count (seed \(seed))")
                            var inPlace = Array(x)
                            let inPlaceCount = inPlace.withUnsafeMutableBufferPointer { form.combine(UnsafeBufferPointer($0), y, op, $0) }
                            #expect(inPlace == expected && inPlaceCount == count, "\(form.name) \(op) in place (seed \(seed))")
                        }
                    }
                }
            }
        }
    }

    /// Values read back from words holding none, one, two or many (the first two are written blindly).
    @Test func valuesComeBackInOrderFromWordsOfAnyFill() async {
        await propertyCheck(count: 100, input: Gen.uint64()) { seed in
            var random = Random(seed: seed)
            var values = Set<UInt16>()
            for _ in 0..<random.int(0...40) {
                let word = random.int(0...1023), fill = [1, 2, 3, 10, 64][random.int(0...4)]
                for _ in 0..<fill { values.insert(UInt16(word * 64 + random.int(0...63))) }
            }
            let sorted = values.sorted()
            let bits = Bitset(sorted: sorted)
            #expect(bits.sortedValues() == sorted, "seed \(seed)")
            let all = Bitset(sorted: (0...65535).map { UInt16($0) })
            #expect(Container.values(bits, all, .and, count: sorted.count) == sorted, "AND, seed \(seed)")
            #expect(Container.values(all, bits, .andNot, count: 65536 - sorted.count).count == 65536 - sorted.count)
        }
    }

    @Test func copiesShareWordsUntilOneChanges() {
        var original = Bitset(sorted: [1, 64, 4095])
        var copy = original
        copy.insert(2)
        original.remove(64)
        #expect(original.sortedValues() == [1, 4095] && original.cardinality == 2)
        #expect(copy.sortedValues() == [1, 2, 64, 4095] && copy.cardinality == 4)
        let merged = Container.words(original, copy, .or)
        #expect(merged.sortedValues() == [1, 2, 64, 4095] && original.cardinality == 2)
    }

    @Test func wordsSitOnCacheLineBoundaries() {
        for bits in [Bitset(), Bitset(sorted: [7]), Container.words(Bitset(sorted: [1]), Bitset(sorted: [2]), .xor)] {
            bits.withWords { #expect(UInt(bitPattern: $0.baseAddress!) % 64 == 0) }
        }
    }
}
