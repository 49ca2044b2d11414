import PropertyBased
import Testing
@testable import TagflowCore

/// The timer heap always offers the earliest due moment, whatever order slots are set, moved and removed in.
@Suite struct TimerHeapTests {
    @Test func theFirstIsAlwaysTheEarliestDueInAnyOrder() async {
        await propertyCheck(count: 200, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            var heap = TimerHeap()
            var expected: [Int32: EpochMillis] = [:]
            let slots = [3, 40, 600][random.int(3)]
            for _ in 0..<random.int(2_000) {
                let slot = Int32(random.int(slots))
                // Many equal moments, some removals (.max), moves both ways.
                let due: EpochMillis = random.int(8) == 0 ? .max : EpochMillis(random.int(50)) - 25
                heap.set(slot, due)
                expected[slot] = due == .max ? nil : due
                check(heap, expected, seed)
            }
            checkEvery(heap, expected, seed)
        }
    }

    @Test func theFirstIsAlwaysTheEarliestDueAsTheEngineUsesIt() async {
        // Given a clock that only moves on, and moments set from it: soon, far, or at once again
        await propertyCheck(count: 200, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            var heap = TimerHeap()
            var expected: [Int32: EpochMillis] = [:]
            var now = EpochMillis(random.int(1 << 40)) - (1 << 39)
            let slots = [5, 100, 1_000][random.int(3)]
            for _ in 0..<random.int(3_000) {
                switch random.int(4) {
                case 0:
                    // When the clock moves, then everything due fires and is set again later (or taken out)
                    now += EpochMillis(random.int(1 << random.int(40)))
                    while let first = heap.first, first.due <= now {
                        let next: EpochMillis = random.int(5) == 0 ? .max : now + 1 + EpochMillis(random.int(1 << random.int(36)))
                        heap.set(first.slot, next)
                        expected[first.slot] = next == .max ? nil : next
                        check(heap, expected, seed)
                    }
                default:
                    // When an event sets a slot's moment from the clock on
                    let slot = Int32(random.int(slots))
                    let due = random.int(10) == 0 ? .max : now + EpochMillis(random.int(1 << random.int(36)))
                    heap.set(slot, due)
                    expected[slot] = due == .max ? nil : due
                }
                // Then the first is always the earliest
                check(heap, expected, seed)
            }
            checkEvery(heap, expected, seed)
        }
    }

    private func check(_ heap: borrowing TimerHeap, _ expected: [Int32: EpochMillis], _ seed: UInt64) {
        let earliest = expected.values.min()
        let first = heap.first
        #expect(first?.due == earliest, "seed \(seed)")
        if let first { #expect(expected[first.slot] == first.due, "seed \(seed)") }
        #expect(heap.count == expected.count, "seed \(seed)")
    }

    private func checkEvery(_ heap: borrowing TimerHeap, _ expected: [Int32: EpochMillis], _ seed: UInt64) {
        for (slot, due) in expected { #expect(heap.due(of: slot) == due, "seed \(seed)") }
    }
}
