import PropertyBased
import Testing
@testable import TagflowCore

/// The timer queue always offers the earliest due moment, whatever order slots are set, moved and removed in,
/// whether the moments sit in its heap (the next hour or so) or in its buckets (later, up to years ahead).
@Suite struct TimerQueueTests {
    @Test func theFirstIsAlwaysTheEarliestDueInAnyOrder() async {
        await propertyCheck(count: 200, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            var queue = TimerQueue()
            var expected: [Int32: EpochMillis] = [:]
            let slots = [3, 40, 600][random.int(3)]
            for _ in 0..<random.int(2_000) {
                let slot = Int32(random.int(slots))
                // Many equal moments, some removals (.max), moves both ways.
                // Moments within one bucket, or spread over years (buckets, the overflow past the ring).
                let spread = [50, 1 << 26, 1 << 36][random.int(3)]
                let due: EpochMillis = random.int(8) == 0 ? .max : EpochMillis(random.int(spread)) - EpochMillis(spread / 2)
                queue.set(slot, due)
                expected[slot] = due == .max ? nil : due
                check(queue, expected, seed)
            }
            checkEvery(queue, expected, seed)
        }
    }

    @Test func theFirstIsAlwaysTheEarliestDueAsTheEngineUsesIt() async {
        // Given a clock that only moves on, and moments set from it: soon, far, or at once again
        await propertyCheck(count: 200, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            var queue = TimerQueue()
            var expected: [Int32: EpochMillis] = [:]
            var now = EpochMillis(random.int(1 << 40)) - (1 << 39)
            let slots = [5, 100, 1_000][random.int(3)]
            for _ in 0..<random.int(3_000) {
                switch random.int(4) {
                case 0:
                    // When the clock moves, then everything due fires and is set again later (or taken out)
                    now += EpochMillis(random.int(1 << random.int(40)))
                    // (taken out in order, as the engine does, then each set again)
                    var fired: [Int32] = []
                    while let slot = queue.popFirst(dueBy: now) {
                        #expect(expected[slot] == expected.values.min() && expected[slot]! <= now, "seed \(seed)")
                        fired.append(slot)
                        expected[slot] = nil
                    }
                    #expect(expected.values.allSatisfy { $0 > now }, "everything due fired (seed \(seed))")
                    for slot in fired {
                        let next: EpochMillis = random.int(5) == 0 ? .max : now + 1 + EpochMillis(random.int(1 << random.int(36)))
                        queue.set(slot, next)
                        expected[slot] = next == .max ? nil : next
                        check(queue, expected, seed)
                    }
                default:
                    // When an event sets a slot's moment from the clock on
                    let slot = Int32(random.int(slots))
                    let due = random.int(10) == 0 ? .max : now + EpochMillis(random.int(1 << random.int(36)))
                    queue.set(slot, due)
                    expected[slot] = due == .max ? nil : due
                }
                // Then the first is always the earliest
                check(queue, expected, seed)
            }
            checkEvery(queue, expected, seed)
        }
    }

    private func check(_ queue: borrowing TimerQueue, _ expected: [Int32: EpochMillis], _ seed: UInt64) {
        let earliest = expected.values.min()
        let first = queue.first
        #expect(first?.due == earliest, "seed \(seed)")
        if let first { #expect(expected[first.slot] == first.due, "seed \(seed)") }
        #expect(queue.count == expected.count, "seed \(seed)")
    }

    private func checkEvery(_ queue: borrowing TimerQueue, _ expected: [Int32: EpochMillis], _ seed: UInt64) {
        for (slot, due) in expected { #expect(queue.due(of: slot) == due, "seed \(seed)") }
    }
}
