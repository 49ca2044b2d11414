import PropertyBased
import TagflowCore
import Testing

@testable import Roaring

/// Every bitmap operation agrees with `Set<UInt32>` over random sparse, dense and run-heavy sets, and every
/// bitmap survives the portable format unchanged.
@Suite struct RoaringPropertyTests {
    @Test func operationsAgreeWithSets() async {
        await propertyCheck(count: 100, input: Gen.uint64()) { seed in
            var random = Random(seed: seed)
            let (a, b) = (random.valueSet(), random.valueSet())
            var x = RoaringBitmap(a), y = RoaringBitmap(b)
            if random.chance(50) { x.optimize() }
            if random.chance(50) { y.optimize() }
            let cases: [(SetOperation, Set<UInt32>)] = [
                (.and, a.intersection(b)), (.or, a.union(b)), (.xor, a.symmetricDifference(b)), (.andNot, a.subtracting(b)),
            ]
            #expect(Set(x) == a && x.count == a.count)
            for (op, expected) in cases {
                let result = x.combined(with: y, op)
                #expect(Set(result) == expected, "\(op) of \(a.count) and \(b.count) values (seed \(seed))")
                #expect(result.count == expected.count, "\(op) count (seed \(seed))")
                #expect(x.combinedCount(with: y, op) == expected.count, "\(op) count only (seed \(seed))")
                var inPlace = x
                inPlace.formCombination(with: y, op)
                #expect(Set(inPlace) == expected, "\(op) in place (seed \(seed))")
                #expect(Array(result) == expected.sorted(), "iteration order (seed \(seed))")
            }
            #expect(x.jaccard(y) == (a.union(b).isEmpty ? 0 : Double(a.intersection(b).count) / Double(a.union(b).count)))
        }
    }

    @Test func sortedArraysCountWhatTheyShare() async {
        await propertyCheck(count: 300, input: Gen.uint64()) { seed in
            var random = Random(seed: seed)
            // Sizes around the eight-value blocks and far apart (binary search), values from a narrow range
            // (many shared) or a wide one (few).
            let range = UInt16(random.int(1...65535))
            func values() -> Set<UInt16> {
                let size = random.chance(30) ? random.int(0...20) : random.int(0...4096)  // arrays hold up to 4,096
                return Set((0..<size).map { _ in UInt16(random.int(0...Int(range))) })
            }
            // (Zero is among the values often: the block comparisons must not stop at it.)
            let (a, b) = (values(), values())
            #expect(SortedArrays.intersectionCount(a.sorted(), b.sorted()) == a.intersection(b).count,
                    "\(a.count) and \(b.count) values below \(range) (seed \(seed))")
            // and the two arrays combined (merged, or through a bitset when long) as the sets say.
            let x = Container.array(a.sorted()), y = Container.array(b.sorted())
            for (op, expected) in [(SetOperation.and, a.intersection(b)), (.or, a.union(b)), (.xor, a.symmetricDifference(b)),
                                   (.andNot, a.subtracting(b))] {
                #expect(x.combined(with: y, op).sortedValues() == expected.sorted(), "\(op) (seed \(seed))")
            }
        }
    }

    @Test func manyWayUnionAndIntersection() async {
        await propertyCheck(count: 80, input: Gen.uint64()) { seed in
            var random = Random(seed: seed)
            let sets = (0..<random.int(0...6)).map { _ in random.valueSet(near: 3) }
            let bitmaps = sets.map { RoaringBitmap($0) }
            let union = sets.reduce(Set<UInt32>()) { $0.union($1) }
            let intersection = sets.dropFirst().reduce(sets.first ?? []) { $0.intersection($1) }
            #expect(Set(RoaringBitmap.union(bitmaps)) == union, "seed \(seed)")
            #expect(Set(RoaringBitmap.intersection(bitmaps)) == intersection, "seed \(seed)")
        }
    }

    @Test func insertRemoveContainsRankSelect() async {
        await propertyCheck(count: 120, input: Gen.uint64()) { seed in
            var random = Random(seed: seed)
            var reference = random.valueSet()
            var bitmap = RoaringBitmap(reference)
            if random.chance(50) { bitmap.optimize() }
            for _ in 0..<200 {
                let value = random.value(near: reference.randomElement(using: &random) ?? 0)
                if random.chance(50) {
                    #expect(bitmap.insert(value) == reference.insert(value).inserted)
                } else {
                    #expect(bitmap.remove(value) == (reference.remove(value) != nil))
                }
            }
            #expect(Set(bitmap) == reference, "seed \(seed)")
            let sorted = reference.sorted()
            for _ in 0..<20 {
                let probe = random.value(near: sorted.randomElement(using: &random) ?? 0)
                #expect(bitmap.contains(probe) == reference.contains(probe))
                #expect(bitmap.rank(probe) == sorted.filter { $0 <= probe }.count, "rank \(probe) (seed \(seed))")
            }
            for index in [0, sorted.count / 2, sorted.count - 1, sorted.count] where index >= 0 {
                #expect(bitmap.select(index) == (index < sorted.count ? sorted[index] : nil), "select \(index) (seed \(seed))")
            }
            #expect(bitmap.min == sorted.first && bitmap.max == sorted.last)
        }
    }

    @Test func portableRoundTrip() async throws {
        await propertyCheck(count: 150, input: Gen.uint64()) { seed in
            var random = Random(seed: seed)
            var bitmap = RoaringBitmap(random.valueSet())
            if random.chance(50) { bitmap.optimize() }
            let bytes = bitmap.portableBytes()
            let back = try? RoaringBitmap(portableBytes: bytes)
            #expect(back == bitmap, "seed \(seed)")
            #expect(back?.portableBytes() == bytes, "the same bytes again (seed \(seed))")
        }
    }

    @Test func malformedBytesAreRefusedWithTheirPlace() throws {
        let bytes = RoaringBitmap([1, 2, 3, 70_000, 1_000_000]).portableBytes()
        #expect(throws: RoaringFormatError(offset: 0, message: "unknown cookie 0")) {
            try RoaringBitmap(portableBytes: [0, 0, 0, 0])
        }
        for cut in [1, 5, 9, bytes.count - 1] {
            #expect(throws: RoaringFormatError.self) { try RoaringBitmap(portableBytes: Array(bytes.prefix(cut))) }
        }
        #expect(throws: RoaringFormatError(offset: bytes.count, message: "1 bytes after the bitmap")) {
            try RoaringBitmap(portableBytes: bytes + [0])
        }
        let error = #expect(throws: RoaringFormatError.self) { try RoaringBitmap(portableBytes: Array(bytes.prefix(12))) }
        #expect(error?.description.contains("ends inside") == true)
    }
}

/// Sets of the three shapes bitmaps must handle, from a replayable seed.
struct Random: RandomNumberGenerator {
    var source: SplitMix64

    init(seed: UInt64) { source = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { source.next() }

    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
    mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent }

    /// A value close to `base` (same or a neighbouring container) or anywhere.
    mutating func value(near base: UInt32) -> UInt32 {
        chance(80) ? base &+ UInt32(truncatingIfNeeded: int(-70_000...70_000)) : UInt32(truncatingIfNeeded: next())
    }

    /// Sparse (arrays), dense (bitsets), run-heavy, or a mix, over up to `groups` 65,536-value groups.
    mutating func valueSet(near groups: Int = 3) -> Set<UInt32> {
        var set = Set<UInt32>()
        let base = chance(20) ? UInt32.max - 200_000 : UInt32(int(0...50)) << 16
        for _ in 0..<int(0...groups) {
            let group = base &+ UInt32(int(0...3)) << 16
            switch int(0...3) {
            case 0:  // sparse
                for _ in 0..<int(0...300) { set.insert(group | UInt32(int(0...65535))) }
            case 1:  // dense
                let keep = int(10...95)
                for low in 0..<65536 where int(0...99) < keep { set.insert(group | UInt32(low)) }
            case 2:  // runs
                for _ in 0..<int(1...20) {
                    let start = int(0...65000)
                    for low in start...min(65535, start + int(0...3000)) { set.insert(group | UInt32(low)) }
                }
            default:  // a whole group, or its edges
                if chance(50) { for low in 0..<65536 { set.insert(group | UInt32(low)) } }
                set.formUnion([group, group | 65535, group | 1])
            }
        }
        return set
    }
}
