import PropertyBased
import Testing
@testable import TagflowCore

/// The engine's compact changes read back as the changes they stand for, whatever their values, causes and
/// tag sets.
@Suite struct TagChangesTests {
    @Test func anyChangeReadsBackAsItWasAppended() async {
        await propertyCheck(count: 300, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            // Given any changes: values of every kind (or none), every cause, tags named anyhow,
            let names = ["paid_30d", "lifecycle", "玻尿酸_viewer", "a"]
            var expected: [TagChange] = []
            for _ in 0..<(1 + random.int(30)) {
                let profile = ProfileID(Int64(random.int(5)))
                let other = ProfileID(Int64(5 + random.int(5)))
                let cause: TagChangeCause = switch random.int(7) {
                case 0: .event(seq: Int64(random.int(1_000)))
                case 1: .time
                case 2: .merge(from: other, into: profile)
                case 3: .merge(from: profile, into: other)
                case 4: .merge(from: other, into: ProfileID(99))  // naming neither side as the profile
                case 5: .definition
                default: .recovery
                }
                expected.append(TagChange(
                    profile: profile, tag: names[random.int(names.count)],
                    old: random.int(3) == 0 ? nil : ValueTableTests.value(&random),
                    new: random.int(3) == 0 ? nil : ValueTableTests.value(&random), at: Int64(random.int(1_000_000)),
                    cause: cause))
            }

            // when they are appended,
            var changes = TagChanges()
            changes.append(contentsOf: expected)

            // then each reads back as it was (a NaN as the same bits), its cause, profile and tag alone too.
            #expect(changes.count == expected.count)
            for (change, original) in zip(changes, expected) {
                #expect(Self.same(change, original), "seed \(seed): \(change) is not \(original)")
            }
            for i in changes.indices {
                #expect(changes.cause(at: i) == expected[i].cause)
                #expect(changes.profile(at: i) == expected[i].profile)
                #expect(changes.tag(at: i) == expected[i].tag)
            }
            changes.removeAll(keepingCapacity: true)
            #expect(changes.isEmpty)
        }
    }

    @Test func changesOfTwoEnginesInOneBufferNameTheirOwnTags() throws {
        // Given two engines of different tag sets reporting into one buffer,
        let first = TagEngine(tagSet: try RuleCompiler.compileOrThrow([RuleSource(text: """
            tag viewed
              when exists(view)
            tag project
              value last(view.project)
            """)]), now: 0)
        let second = TagEngine(tagSet: try RuleCompiler.compileOrThrow([RuleSource(text: """
            tag paid
              when exists(pay)
            """)]), now: 0)
        var changes = TagChanges()
        let view = RuleEvent(seq: 1, name: "view", timestamp: 1_000, payload: ["properties": ["project": "玻尿酸水光针"]])
        first.apply(view, to: ProfileID(1), now: 1_000, changes: &changes)
        second.apply(RuleEvent(seq: 2, name: "pay", timestamp: 2_000), to: ProfileID(1), now: 2_000, changes: &changes)
        first.apply(view, to: ProfileID(2), now: 3_000, changes: &changes)

        // then every change names its own engine's tag, with its value (text kept beside the records).
        #expect(changes.map { "\($0.profile) \($0.tag) \($0.new?.description ?? "—")" } == [
            "1 viewed true", "1 project \"玻尿酸水光针\"", "1 paid true", "2 viewed true", "2 project \"玻尿酸水光针\"",
        ])
    }

    static func same(_ a: TagChange, _ b: TagChange) -> Bool {
        a.profile == b.profile && a.tag == b.tag && same(a.old, b.old) && same(a.new, b.new) && a.at == b.at
            && a.cause == b.cause
    }

    static func same(_ a: RuleValue?, _ b: RuleValue?) -> Bool {
        if case .number(let x)? = a, case .number(let y)? = b { return x.bitPattern == y.bitPattern || x == y }
        return a == b
    }
}
