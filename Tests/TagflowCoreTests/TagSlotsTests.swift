import PropertyBased
import Testing
@testable import TagflowCore

/// A profile's tag slots, found by counting the bits of a mask, hold what a dictionary from tag to slot
/// would after any run of changes — tags in the mask's first word (0–47), in further words, far apart.
@Suite struct TagSlotsTests {
    @Test func behaveAsADictionaryOfTags() async {
        await propertyCheck(count: 300, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            var slots = TagSlots()
            var expected: [Int: TagSlots.Slot] = [:]
            // Some runs keep to one word of tags, others reach far.
            let highest = [10, 48, 49, 130, 400][random.int(5)]
            for step in 0..<random.int(300) {
                let tag = random.int(highest)
                let slot = TagSlots.Slot(value: PackedValue(number: Double(step)), since: Int64(step), due: Int64(tag * 1000 + step))
                switch (random.int(4), expected[tag]) {
                case (0, nil), (1, nil):
                    slots.insert(tag, slot)
                    expected[tag] = slot
                case (0, .some), (1, .some):
                    slots[slots.index(of: tag)!] = slot
                    expected[tag] = slot
                case (2, .some):
                    slots.remove(tag, at: slots.index(of: tag)!)
                    expected[tag] = nil
                case (3, _):
                    if random.int(2) == 0 { slots.shrinkToFit() } else { slots.shrinkIfSparse() }
                default:
                    #expect(slots.index(of: tag) == nil && !slots.contains(tag), "seed \(seed)")
                }
                #expect(slots.count == expected.count, "seed \(seed)")
                #expect(slots.isEmpty == expected.isEmpty, "seed \(seed)")
            }
            var seen: [Int] = []
            slots.forEachTag { tag, index in
                seen.append(tag)
                #expect(slots.index(of: tag) == index && slots.contains(tag), "seed \(seed)")
                #expect(slots[index].value == expected[tag]?.value && slots[index].since == expected[tag]?.since, "seed \(seed)")
                #expect(slots.due(at: index) == expected[tag]?.due, "seed \(seed)")
            }
            #expect(seen == expected.keys.sorted(), "seed \(seed)")
        }
    }

    @Test func aProfileWithNoSlotLeftKeepsNoMemory() {
        // Given slots for a tag of the first word and one far beyond it.
        var slots = TagSlots()
        let slot = TagSlots.Slot(value: .true, since: 1, due: .max)
        slots.insert(3, slot)
        slots.insert(200, slot)
        #expect(slots.index(of: 200) == 1 && slots.index(of: 3) == 0)

        // When both go, then nothing is kept.
        slots.remove(3, at: 0)
        #expect(slots.index(of: 200) == 0)
        slots.remove(200, at: 0)
        #expect(slots.isEmpty && slots.count == 0 && slots.spareSlots == 0 && !slots.contains(200))
    }
}
