import PropertyBased
import Testing
@testable import TagflowCore

/// The timer heap always offers the earliest due moment, whatever order slots are set, moved and removed in.
@Suite struct TimerHeapTests {
    @Test func theFirstIsAlwaysTheEarliestDue() async {
        await propertyCheck(count: 200, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            var heap = TimerHeap()
            var expected: [Int32: EpochMillis] = [:]
            let slots = [3, 40, 600][random.int(3)]
            for _ in 0..<random.int(2_000) {
                let slot = Int32(random.int(slots))
                // Many equal moments, some removals (.max), moves both ways.
                let due: EpochMillis = random.int(8) == 0 ? .max : EpochMillis(random.int(50))
                heap.set(slot, due)
                expected[slot] = due == .max ? nil : due
                let earliest = expected.values.min()
                #expect(heap.first?.due == earliest, "seed \(seed)")
                if let first = heap.first { #expect(expected[first.slot] == first.due, "seed \(seed)") }
                #expect(heap.count == expected.count)
            }
            for (slot, due) in expected { #expect(heap.due(of: slot) == due) }
        }
    }
}
