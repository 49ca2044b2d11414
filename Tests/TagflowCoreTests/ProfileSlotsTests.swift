import PropertyBased
import Testing
@testable import TagflowCore

/// Profile slots answer as a dictionary would, whatever ids come (dense, negative, far apart) and in
/// whatever order they are set and removed.
@Suite struct ProfileSlotsTests {
    @Test func slotsAnswerAsADictionary() async {
        await propertyCheck(count: 80, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            var slots = ProfileSlots()
            var expected: [ProfileID: Int32] = [:]
            for step in 0..<random.int(3_000) {
                let raw: Int64 = switch random.int(10) {
                case 0: -Int64(random.int(5)) - 1
                case 1: Int64(random.int(1 << 40))
                case 2: 60_000 + Int64(random.int(80_000))  // beyond the array at first, inside it later
                default: Int64(random.int(3_000))
                }
                let id = ProfileID(raw)
                let slot: Int32? = random.int(4) == 0 ? nil : Int32(step)
                slots[id] = slot
                expected[id] = slot
                #expect(slots.count == expected.count, "seed \(seed)")
                let probe = ProfileID(Int64(random.int(3_000)))
                #expect(slots[probe] == expected[probe], "seed \(seed)")
            }
            for (id, slot) in expected { #expect(slots[id] == slot, "seed \(seed)") }
            #expect(Set(slots.ids) == Set(expected.keys), "seed \(seed)")
        }
    }
}
