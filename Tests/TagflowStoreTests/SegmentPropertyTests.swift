import Foundation
import Roaring
import Testing

@testable import TagflowCore
@testable import TagflowStore

/// Segment membership, kept in real time, equals a brute-force evaluation of the segment over every
/// profile's stored tags, after random events, merges, time passing and definitions added midway; and the
/// instant bitmap preview of each segment agrees with the membership kept.
@Suite struct SegmentPropertyTests {
    static let tags = """
        tag viewed "看过"
          when exists(view_item) in last 2 days
        tag viewed_often
          when count(view_item) in last 3 days >= 2
        tag paid
          when exists(pay_order) in last 5 days
        tag stage "阶段"
          case "paid" when exists(pay_order) in last 4 days
          case "active" when exists(view_item) in last 1 days
          else "dormant"
        tag favourite
          value top(view_item.project) in last 7 days
        tag spend
          value sum(pay_order.amount)
        """
    static let booleanTags = ["viewed", "viewed_often", "paid"]
    static let projects = ["玻尿酸", "热玛吉", "水光针"]

    @Test func membershipEqualsBruteForceAfterRandomChanges() async throws {
        await checkSeeds(runs: 12, share: 10) { try await Self.run(seed: $0) }
    }

    static func run(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(directory: directory.path)
        defer { try? store.close() }
        var now: EpochMillis = 1_772_400_000_000
        _ = try store.planTags(.upsert([RuleSource(text: tags)]), actor: "test", now: now, apply: true)

        // Given segments made now, and more made after some history exists,
        var segments: [(id: String, expr: SegmentExpr)] = []
        func define(_ count: Int) throws {
            var texts: [String] = []
            for _ in 0..<count {
                let id = "s\(segments.count)"
                let expr = SegmentExpr.random(depth: 3, &random)
                segments.append((id, expr))
                texts.append("segment \(id)\n  when \(expr.text)")
            }
            let plan = try store.planTags(.upsert([RuleSource(text: texts.joined(separator: "\n"))]), actor: "test", now: now, apply: true)
            #expect(!plan.hasErrors, "seed \(seed): \(plan.diagnostics)")
        }
        try define(3)

        // when events arrive (some an hour late, some linking an anonymous visitor to a user) while time passes,
        for step in 0..<24 {
            var events: [Event] = []
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let user = "u\(Int.random(in: 0..<6, using: &random))"
                let late = Int.random(in: 0..<5, using: &random) == 0 ? EpochMillis(3_600_000) : 0
                let at = now - late
                let anonymous = Int.random(in: 0..<4, using: &random) == 0 ? "a\(Int.random(in: 0..<4, using: &random))" : nil
                let identifiers = [Identifier("user_id", user)] + (anonymous.map { [Identifier("anonymous_id", $0)] } ?? [])
                if Bool.random(using: &random) {
                    let project = projects.randomElement(using: &random)!
                    events.append(Event(
                        type: .track, name: "view_item", userId: user, anonymousId: anonymous, timestamp: at, receivedAt: now,
                        identifiers: identifiers,
                        payload: ["type": "track", "event": "view_item", "properties": ["project": .string(project)]]))
                } else {
                    let amount = Double(Int.random(in: 1...5, using: &random) * 100)
                    events.append(Event(
                        type: .track, name: "pay_order", userId: user, anonymousId: anonymous, timestamp: at, receivedAt: now,
                        identifiers: identifiers,
                        payload: ["type": "track", "event": "pay_order", "properties": ["amount": .double(amount)]]))
                }
            }
            _ = try store.ingest([IngestSubmission(sourceID: 1, receivedAt: now, events: events)])
            now += EpochMillis(Int.random(in: 1...36, using: &random)) * 3_600_000
            try store.advanceTags(to: now)
            if step == 10 { try define(3) }

            // then every segment holds exactly the profiles whose stored tags satisfy it.
            let everyone = try store.everyone()
            var values: [UInt32: [String: JSONValue]] = [:]
            for number in everyone {
                let tags = try await store.tags(of: ProfileID(Int64(number)))
                values[number] = Dictionary(uniqueKeysWithValues: tags.map { ($0.tag, $0.value) })
            }
            for (id, expr) in segments {
                let expected = Set(everyone.filter { expr.holds(for: values[$0] ?? [:]) })
                let kept = try store.membership(of: id)
                #expect(Set(kept) == expected, "seed \(seed), step \(step), segment \(id): \(expr.text)")
                let preview = try store.previewSegment("segment \(id)\n  when \(expr.text)", now: now)
                #expect(preview.method == "bitmaps" && preview.size == expected.count && preview.gained == 0 && preview.lost == 0,
                        "seed \(seed), step \(step), preview of \(id): \(preview)")
            }
        }
    }
}

/// A random segment condition over the test's tags, rendered as rule text and evaluated by brute force
/// following docs/rules.md (not the engine's code): a boolean tag is true when the profile has it; `=`
/// between texts is equality and `null` equals only `null`; `!=` is its negation; `>` is false with `null`.
indirect enum SegmentExpr {
    case has(String)
    case equals(String, String)
    case notEquals(String, String)
    case oneOf(String, [String])
    case above(String, Double)
    case not(SegmentExpr)
    case and(SegmentExpr, SegmentExpr)
    case or(SegmentExpr, SegmentExpr)

    static func random(depth: Int, _ random: inout SplitMix64) -> SegmentExpr {
        let stages = ["paid", "active", "dormant"]
        if depth > 0, Int.random(in: 0..<3, using: &random) > 0 {
            switch Int.random(in: 0..<3, using: &random) {
            case 0: return .not(.random(depth: depth - 1, &random))
            case 1: return .and(.random(depth: depth - 1, &random), .random(depth: depth - 1, &random))
            default: return .or(.random(depth: depth - 1, &random), .random(depth: depth - 1, &random))
            }
        }
        switch Int.random(in: 0..<6, using: &random) {
        case 0, 1: return .has(SegmentPropertyTests.booleanTags.randomElement(using: &random)!)
        case 2: return .equals(Bool.random(using: &random) ? "stage" : "favourite",
                               (stages + SegmentPropertyTests.projects).randomElement(using: &random)!)
        case 3: return .notEquals("stage", stages.randomElement(using: &random)!)
        case 4: return .oneOf("favourite", Array(SegmentPropertyTests.projects.shuffled(using: &random).prefix(2)))
        default: return .above("spend", Double(Int.random(in: 0...6, using: &random) * 100))
        }
    }

    var text: String {
        switch self {
        case .has(let tag): "tag.\(tag)"
        case .equals(let tag, let value): "tag.\(tag) = \"\(value)\""
        case .notEquals(let tag, let value): "tag.\(tag) != \"\(value)\""
        case .oneOf(let tag, let values): "tag.\(tag) in [" + values.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        case .above(let tag, let bound): "tag.\(tag) > \(Int(bound))"
        case .not(let e): "not (\(e.text))"
        case .and(let a, let b): "(\(a.text) and \(b.text))"
        case .or(let a, let b): "(\(a.text) or \(b.text))"
        }
    }

    func holds(for tags: [String: JSONValue]) -> Bool {
        switch self {
        case .has(let tag): tags[tag] != nil
        case .equals(let tag, let value): tags[tag] == .string(value)
        case .notEquals(let tag, let value): tags[tag] != .string(value)
        case .oneOf(let tag, let values): values.contains { tags[tag] == .string($0) }
        case .above(let tag, let bound):
            switch tags[tag] {
            case .int(let n)?: Double(n) > bound
            case .double(let n)?: n > bound
            default: false
            }
        case .not(let e): !e.holds(for: tags)
        case .and(let a, let b): a.holds(for: tags) && b.holds(for: tags)
        case .or(let a, let b): a.holds(for: tags) || b.holds(for: tags)
        }
    }
}
