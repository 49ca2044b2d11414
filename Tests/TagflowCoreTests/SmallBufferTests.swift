import PropertyBased
import Testing
@testable import TagflowCore

/// A small buffer holds what an array would after any run of operations, and lets go of every element it
/// held (none leaks, none is released twice) as it shrinks, grows and goes away.
@Suite struct SmallBufferTests {
    /// Counts its living instances, so a leak or a double release shows.
    final class Tracked {
        nonisolated(unsafe) static var living = 0
        let value: Int
        init(_ value: Int) { self.value = value; Self.living += 1 }
        deinit { Self.living -= 1 }
    }

    @Test func runsOfCopiesComeAndGoAsInAnArray() async {
        await propertyCheck(count: 200, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            var buffer = SmallBuffer<Int64>()
            var expected: [Int64] = []
            for step in 0..<random.int(200) {
                if random.int(2) == 0 {
                    let i = random.int(expected.count + 1), n = random.int(5)
                    buffer.insert(repeating: Int64(step), count: n, at: i)
                    expected.insert(contentsOf: repeatElement(Int64(step), count: n), at: i)
                } else {
                    let i = random.int(expected.count + 1), n = random.int(min(4, expected.count - i) + 1)
                    buffer.removeSubrange(i..<(i + n))
                    expected.removeSubrange(i..<(i + n))
                }
                #expect(buffer.array == expected, "seed \(seed)")
            }
        }
    }

    @Test func behavesAsAnArray() async {
        await propertyCheck(count: 300, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            let before = Tracked.living
            do {
                var buffer = SmallBuffer<Tracked>()
                var expected: [Int] = []
                for step in 0..<random.int(400) {
                    switch random.int(12) {
                    case 0, 1, 2:
                        buffer.append(Tracked(step))
                        expected.append(step)
                    case 3 where !expected.isEmpty:
                        let i = random.int(expected.count)
                        #expect(buffer.remove(at: i).value == expected.remove(at: i))
                    case 4:
                        let n = random.int(expected.count + 1)
                        buffer.removeFirst(n)
                        expected.removeFirst(n)
                    case 5:
                        let n = random.int(expected.count + 1) / 2
                        buffer.removeLast(n)
                        expected.removeLast(n)
                    case 6:
                        let i = random.int(expected.count + 1)
                        let items = (0..<random.int(4)).map { step * 10 + $0 }
                        buffer.insert(contentsOf: items.map(Tracked.init), at: i)
                        expected.insert(contentsOf: items, at: i)
                    case 7:
                        let odd = random.int(2)
                        buffer.removeAll { $0.value % 2 == odd }
                        expected.removeAll { $0 % 2 == odd }
                    case 8 where expected.count >= 2:
                        let i = random.int(expected.count), j = random.int(expected.count)
                        buffer.swapAt(i, j)
                        expected.swapAt(i, j)
                    case 9:
                        if random.int(4) == 0 { buffer.removeAll(); expected.removeAll() } else { buffer.shrinkToFit() }
                    case 10:
                        // One instance at most (the count of living ones is the count of elements).
                        let i = random.int(expected.count + 1), n = random.int(2)
                        buffer.insert(repeating: Tracked(step), count: n, at: i)
                        expected.insert(contentsOf: repeatElement(step, count: n), at: i)
                    case 11:
                        let i = random.int(expected.count + 1), n = random.int(expected.count - i + 1)
                        buffer.removeSubrange(i..<(i + n))
                        expected.removeSubrange(i..<(i + n))
                    default:
                        buffer.shrinkIfSparse()
                    }
                    #expect(buffer.count == expected.count, "seed \(seed)")
                    #expect(buffer.capacity >= buffer.count)
                }
                #expect(buffer.array.map(\.value) == expected, "seed \(seed)")
                #expect(Tracked.living - before == expected.count, "seed \(seed)")
            }
            #expect(Tracked.living == before, "seed \(seed): elements leaked or released twice")
        }
    }
}
