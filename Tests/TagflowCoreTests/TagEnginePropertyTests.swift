import Foundation
import PropertyBased
import Testing

@testable import TagflowCore

/// The main correctness bar of the tag engine: for random rules, random event streams (late, out of
/// order, from the near future), random merges and random passages of time, every profile's tags equal
/// the brute-force reference at every checkpoint.
@Suite struct TagEnginePropertyTests {
    @Test func engineEqualsReferenceAtEveryCheckpoint() async {
        // TAGFLOW_PROPERTY_RUNS=5000 swift test --filter TagEnginePropertyTests for a long hunt.
        let runs = Int(ProcessInfo.processInfo.environment["TAGFLOW_PROPERTY_RUNS"] ?? "") ?? 150
        await propertyCheck(count: runs, input: Gen.uint64()) { seed in
            var scenario = RandomScenario(seed: seed)
            if let failure = scenario.run() {
                Issue.record("seed \(seed): \(failure)\nrules:\n\(scenario.rulesText)")
            }
        }
    }
}

extension TagEnginePropertyTests {
    /// Applying a run of events as a batch (the engine reading ahead) changes exactly what applying them one
    /// by one does, in the same order.
    @Test func aBatchOfEventsChangesWhatItsEventsOneByOneDo() async {
        await propertyCheck(count: 60, input: Gen.uint64()) { seed in
            var scenario = RandomScenario(seed: seed)
            scenario.rulesText = scenario.makeRules()
            guard let tagSet = RuleCompiler.compile([RuleSource(text: scenario.rulesText)]).0 else {
                Issue.record("seed \(seed): generated rules did not compile")
                return
            }
            let one = TagEngine(tagSet: tagSet, calendar: .shanghai, now: scenario.start)
            let batched = TagEngine(tagSet: tagSet, calendar: .shanghai, now: scenario.start)
            var now = scenario.start
            var inputs: [EngineInput] = []
            for seq in 1...Int64(scenario.int(1...300)) {
                now += Int64(scenario.int(0...(scenario.chance(10) ? 86_400_000 : 600_000)))
                let profile = ProfileID(Int64(scenario.int(1...(scenario.chance(50) ? 3 : 40))))
                inputs.append(EngineInput(scenario.event(seq: seq, now: now), to: profile, now: now))
            }
            var oneByOne = TagChanges(), inBatches = TagChanges()
            for input in inputs { one.apply(input.event, to: input.profile, now: input.now, changes: &oneByOne) }
            var start = 0
            while start < inputs.count {
                let end = min(inputs.count, start + scenario.int(1...40))
                batched.apply(inputs[start..<end], changes: &inBatches)
                start = end
            }
            #expect(inBatches == oneByOne, "seed \(seed)\nrules:\n\(scenario.rulesText)")
        }
    }
}

/// One random run: a random tag set, then random operations with checkpoints after each.
struct RandomScenario {
    var random: SplitMix64
    var rulesText = ""
    var verbose = false
    let start: EpochMillis = Timestamp.parse("2026-03-01T09:00:00+08:00") ?? 0

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    mutating func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(random.next() % UInt64(range.count)) }
    mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent }

    // MARK: - Random rules

    mutating func window() -> String {
        switch int(0...9) {
        case 0, 1: return ""
        case 2, 3: return " in last \(int(1...48)) hours"
        case 4: return " in last \(int(1...5)) days"
        case 5: return " in last \(int(10...300)) minutes"
        case 6: return " between \(int(25...72)) and \(int(1...24)) hours ago"
        case 7: return pick([" today", " this week", " this month"])
        case 8: return " in last \(int(1...4)) calendar days"
        default: return " in last \(int(1...3)) days"
        }
    }

    mutating func filter() -> String {
        switch int(0...5) {
        case 0: return " where p = \"\(pick(["x", "y", "z"]))\""
        case 1: return " where n > \(int(0...9))"
        case 2: return " where p in [\"x\", \"y\"]"
        default: return ""
        }
    }

    mutating func aggregate() -> (text: String, type: String) {
        let event = pick(["a", "b", "c", "any"])
        switch int(0...13) {
        case 0, 1: return ("count(\(event)\(filter()))\(window())", "number")
        case 2: return ("sum(\(event).n\(filter()))\(window())", "number")
        case 3: return ("avg(\(event).n)\(window())", "number")
        case 4: return ("\(pick(["min", "max"]))(\(event).n\(filter()))\(window())", "number")
        case 5: return ("distinct(\(event).p)\(window())", "number")
        case 6: return ("count(\(event) per p)\(window())", "number")
        case 7: return ("exists(\(event)\(filter()))\(window())", "bool")
        case 8: return ("sessions\(window())", "number")
        case 9: return ("sequence(a -> b\(chance(50) ? " -> c" : "")\(chance(60) ? " within \(int(1...6)) hours" : ""))\(window())", "bool")
        case 10: return ("days_since(\(pick(["first_time", "last_time"]))(\(event)\(filter())))", "number")
        case 11: return ("\(pick(["top", "first", "last"]))(\(event).p)\(window())", "string")
        case 12: return ("sum(\(event).n per p)\(window())", "number")
        default: return ("trait.\(pick(["city", "level"]))", "string")
        }
    }

    mutating func condition(depth: Int = 0, tagsSoFar: [String]) -> String {
        if depth < 2, chance(35) {
            return "(\(condition(depth: depth + 1, tagsSoFar: tagsSoFar)) \(pick(["and", "or"])) \(condition(depth: depth + 1, tagsSoFar: tagsSoFar)))"
        }
        if depth < 2, chance(10) { return "not \(condition(depth: depth + 1, tagsSoFar: tagsSoFar))" }
        if !tagsSoFar.isEmpty, chance(12) {
            let reference = pick(tagsSoFar)
            guard !reference.hasPrefix("b") else {
                return chance(70) ? "tag.\(reference)" : "tag.\(reference) = \(pick(["true", "false"]))"
            }
            return chance(15) ? "tag.\(reference) is null" : "tag.\(reference) = \"\(pick(["hot", "cold", "x", "y"]))\""
        }
        let (text, type) = aggregate()
        switch type {
        case "bool": return text
        case "string": return "\(text) = \"\(pick(["x", "y", "z", "上海"]))\""
        default: return "\(text) \(pick([">=", ">", "<", "<=", "=", "!="])) \(chance(20) ? "\(int(0...4)).5" : "\(int(0...4))")"
        }
    }

    mutating func makeRules() -> String {
        var text = ""
        var ids: [String] = []
        for i in 0..<int(2...6) {
            let kind = int(0...5)
            let id = (kind == 0 ? "c" : kind == 1 ? "v" : "b") + "\(i)"
            text += "tag \(id)\n"
            switch kind {
            case 0:
                text += "  case \"hot\" when \(condition(tagsSoFar: ids))\n  case \"warm\" when \(condition(tagsSoFar: ids))\n"
                if chance(60) { text += "  else \"cold\"\n" }
            case 1:
                text += "  value \(aggregate().text)\n"
            default:
                text += "  when \(condition(tagsSoFar: ids))\n"
            }
            ids.append(id)
        }
        return text
    }

    // MARK: - Random events and the run

    mutating func event(seq: Int64, now: EpochMillis) -> RuleEvent {
        let lateness: Int64 = switch int(0...9) {
        case 0: Int64(int(0...72)) * 3_600_000 + Int64(int(0...3_599_999))
        case 1: -Int64(int(0...600_000))
        default: Int64(int(0...120_000))
        }
        var properties = JSONObject()
        // Now and then a rarer value: the value table frees and reuses places, which a value some profile
        // still holds but the sweep missed would show.
        if chance(80) { properties["p"] = .string(chance(85) ? pick(["x", "y", "z"]) : "w\(int(0...30))") }
        switch int(0...6) {
        case 0: break
        case 1: properties["n"] = .string(String(int(0...10)))
        case 2 where chance(40): properties["n"] = .int(Int64(-int(1...4)))  // a refund: sums that time can raise
        case 3: properties["n"] = .double(Double(int(0...20)) / 4)
        default: properties["n"] = .int(Int64(int(0...10)))
        }
        let name = pick(["a", "b", "c", "a", "identify"])
        var traits = JSONObject()
        if name == "identify" {
            if chance(70) { traits["city"] = .string(pick(["上海", "x", "y"])) }
            if chance(50) { traits["level"] = .string(pick(["x", "z"])) }
        }
        return RuleEvent(seq: seq, name: name, timestamp: now - lateness, payload: ["properties": .object(properties)], traits: traits)
    }

    /// Runs the scenario; a description of the first difference, or nil when the engine matched throughout.
    mutating func run() -> String? {
        rulesText = makeRules()
        let (compiled, diagnostics) = RuleCompiler.compile([RuleSource(text: rulesText)])
        guard let tagSet = compiled else { return "generated rules did not compile: \(diagnostics)" }
        // The value table swept whenever it holds a few values: a value freed while a profile holds it
        // would read back wrong (or not at all). Windows keep a summary (and tally) from three events on
        // and count them afresh at each read below — or, in a quarter of the runs, always count them afresh:
        // every way of keeping them, and the moves between, in small runs.
        let summariesFrom = chance(25) ? Int(Int32.max) : 2
        let engine = TagEngine(
            tagSet: tagSet, calendar: .shanghai, now: start, valuesSweptFrom: 4, summariesFrom: summariesFrom)
        let reference = ReferenceEvaluator(tagSet: tagSet, calendar: .shanghai)
        var eventsOf: [ProfileID: [RuleEvent]] = [:]
        var now = start
        var seq: Int64 = 0
        var changes = TagChanges()
        let profileCount = int(1...4)
        for step in 0..<int(20...120) {
            let operation = int(0...9)
            now += operation < 2 ? Int64(int(1...(chance(30) ? 3 * 86_400_000 : 3_600_000))) : Int64(int(0...60_000))
            // Time first: every change it causes must happen at exactly the right millisecond.
            engine.advance(to: now, changes: &changes)
            if let wrong = checkTiming(changes, reference, eventsOf) { return "step \(step): \(wrong)" }
            if verbose { for c in changes { print("  ", c) } }
            changes.removeAll()
            switch operation {
            case 0, 1:
                if verbose { print("advance to \(Timestamp.format(now))") }
            case 2 where eventsOf.count >= 2 && chance(30):
                let ids = eventsOf.keys.sorted()
                let source = pick(ids)
                let target = pick(ids.filter { $0 != source })
                engine.merge(source, into: target, now: now, changes: &changes)
                if verbose { print("merge \(source) into \(target)") }
                eventsOf[target, default: []] += eventsOf[source] ?? []
                eventsOf[source] = nil
            default:
                seq += 1
                let profile = ProfileID(Int64(int(1...profileCount)))
                let e = event(seq: seq, now: now)
                engine.apply(e, to: profile, now: now, changes: &changes)
                if verbose { print("apply \(e.name) #\(e.seq) ts \(Timestamp.format(e.timestamp)) to \(profile) at \(Timestamp.format(now))") }
                eventsOf[profile, default: []].append(e)
            }
            if let wrong = changes.first(where: { $0.cause == .time || $0.at != now }) {
                return "step \(step): an event or merge caused a change stamped as \(wrong)"
            }
            if verbose { for c in changes { print("  ", c) } }
            changes.removeAll()
            if let difference = compare(engine, reference, eventsOf, at: engine.now) {
                return "step \(step) at \(Timestamp.format(engine.now)): \(difference)"
            }
        }
        return nil
    }

    /// Each change time made happened at its exact moment: the reference has the old value a millisecond
    /// before and the new value at it.
    func checkTiming(_ changes: TagChanges, _ reference: ReferenceEvaluator, _ eventsOf: [ProfileID: [RuleEvent]]) -> String? {
        for change in changes {
            guard change.cause == .time else { return "a change while only time passed is not caused by time: \(change)" }
            let events = eventsOf[change.profile] ?? []
            let before = reference.tags(events: events, at: change.at - 1)[change.tag]
            let after = reference.tags(events: events, at: change.at)[change.tag]
            if before != change.old || after != change.new {
                return "\(change), but the reference has \(before?.description ?? "—") just before and \(after?.description ?? "—") at that moment"
            }
        }
        return nil
    }

    func compare(
        _ engine: TagEngine, _ reference: ReferenceEvaluator, _ eventsOf: [ProfileID: [RuleEvent]], at now: EpochMillis
    ) -> String? {
        for (profile, events) in eventsOf.sorted(by: { $0.key < $1.key }) {
            let expected = reference.tags(events: events, at: now)
            let actual = Dictionary(uniqueKeysWithValues: engine.tags(of: profile).map { ($0.tag, $0.value) })
            if expected != actual {
                return "profile \(profile): engine \(actual.sorted { $0.key < $1.key }) but reference \(expected.sorted { $0.key < $1.key })"
            }
        }
        return nil
    }
}

extension TagEnginePropertyTests {
    /// An explanation shows a rule and each of its features as text: that text is the rule language (what a
    /// marketer would write: `sessions in last 7 days`, `where project = "玻尿酸"`, the parentheses `not (a and
    /// b)` needs), and compiles back to the very same rule.
    @Test func whatAnExplanationShowsCompilesBackToTheSameRule() async throws {
        func expectRoundTrip(_ tagSet: TagSet, _ context: String) {
            let writer = RuleWriter(tagSet)
            var text = ""
            for tag in tagSet.tags {
                text += "tag \(tag.id)\n"
                switch tag.rule {
                case .boolean(let condition): text += "  when \(writer.write(condition))\n"
                case .valued(let expression): text += "  value \(writer.write(expression))\n"
                case .cases(let cases, let otherwise):
                    for (value, condition) in cases {
                        text += "  case \(RuleValue.string(value)) when \(writer.write(condition))\n"
                    }
                    if let otherwise { text += "  else \(RuleValue.string(otherwise))\n" }
                }
            }
            guard let again = RuleCompiler.compile([RuleSource(text: text)]).0 else {
                Issue.record("\(context): the rules as written back do not compile:\n\(text)")
                return
            }
            #expect(again.tags.map(\.rule) == tagSet.tags.map(\.rule), "\(context):\n\(text)")
            #expect(again.features == tagSet.features, "\(context):\n\(text)")
        }
        // Given the example tag set, whose texts a marketer reads in the console
        let examples = try ClinicScenario.exampleTagSet()
        expectRoundTrip(examples, "examples")
        let written = examples.features.map { RuleWriter(examples).write($0) }
        #expect(written.contains("sessions in last 30 days"))
        #expect(written.contains { $0.hasPrefix(#"count(view_item where project = "玻尿酸")"#) })
        // and a regular expression inside a filter, written out
        let regex = try RuleCompiler.compileOrThrow([RuleSource(text: #"tag r\#n  when not (exists(view where project matches "^玻") and trait.city = "上海")\#n"#)])
        expectRoundTrip(regex, "regex")
        if case .boolean(let condition) = regex.tags[0].rule {
            #expect(RuleWriter(regex).write(condition) == #"not (exists(view where project matches "^玻") and trait.city = "上海")"#)
        }
        // and random rules of every kind
        await propertyCheck(count: 100, input: Gen.uint64()) { seed in
            var scenario = RandomScenario(seed: seed)
            guard let tagSet = RuleCompiler.compile([RuleSource(text: scenario.makeRules())]).0 else { return }
            expectRoundTrip(tagSet, "seed \(seed)")
        }
    }
}
