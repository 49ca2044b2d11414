import Foundation
import Testing

@testable import TagflowCore
@testable import TagflowStore

/// Group commit changes nothing of the tags: a commit of many events, from one submission or many, with
/// merges among them, records the history the same events record committed one at a time.
@Suite struct GroupCommitTagTests {
    static let t0: EpochMillis = 1_772_400_000_000
    /// Every commit's moment: the engine's clock is the same for every event however they are committed.
    static let receivedAt = t0 + 600_000

    /// 600 events of 60 people: each browses anonymously, then as a user, and the event that carries both
    /// ids merges the two profiles — in the middle of a large commit.
    static let events: [Event] = (0..<600).map { i in
        let person = i % 60
        let (user, anonymous): (String?, String?) = switch i / 60 {
        case 0...2: (nil, "a-\(person)")
        case 3...5: ("u-\(person)", nil)
        case 6: ("u-\(person)", "a-\(person)")  // the merge
        default: ("u-\(person)", nil)
        }
        let name = i % 7 == 0 ? "pay_order" : "view_item"
        let project = ["玻尿酸", "热玛吉", "水光针", "超声炮"][i % 4]
        var identifiers: [Identifier] = []
        if let user { identifiers.append(Identifier("user_id", user)) }
        if let anonymous { identifiers.append(Identifier("anonymous_id", anonymous)) }
        return Event(type: .track, name: name, userId: user, anonymousId: anonymous, timestamp: t0 + EpochMillis(i) * 1_000,
                     receivedAt: receivedAt,
                     identifiers: identifiers,
                     payload: ["type": "track", "event": .string(name), "properties": ["project": .string(project)]])
    }

    /// The history a store records for `events` handed over in commits of the given sizes (each commit's
    /// events split into submissions of `submission` events).
    func history(commits: [Int], submission: Int) async throws -> [TagHistoryEntry] {
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(directory: directory.path)
        _ = try store.planTags(.upsert([RuleSource(text: TagStoreTests.rules)]), actor: "test", now: Self.t0, apply: true)
        var start = 0
        for size in commits {
            let events = Array(Self.events[start..<start + size])
            start += size
            let submissions = stride(from: 0, to: events.count, by: submission).map {
                IngestSubmission(sourceID: 1, receivedAt: Self.receivedAt, events: Array(events[$0..<min($0 + submission, events.count)]))
            }
            _ = try store.ingest(submissions)
        }
        #expect(start == Self.events.count)
        let history = try await store.tagHistory(profile: nil, tag: nil, before: nil, limit: 100_000)
        try store.close()
        return history
    }

    @Test func aCommitRecordsTheChangesOfItsEventsTakenOneAtATimeHoweverManyItHolds() async throws {
        // Given the events committed one at a time
        let oneByOne = try await history(commits: Array(repeating: 1, count: 600), submission: 1)
        #expect(oneByOne.contains { $0.cause == "merge" })
        #expect(oneByOne.count > 600)
        // when they come in large commits, of one submission or of many, and in commits of uneven sizes
        let layouts: [(commits: [Int], submission: Int)] = [
            ([300, 300], 300),
            ([600], 7),
            ([31, 32, 33, 504], 1),
        ]
        for layout in layouts {
            let together = try await history(commits: layout.commits, submission: layout.submission)
            // then the history is the same change for change: the same profiles, values, moments and causes
            // (leaving out the rows' ids and when they were written down)
            func essence(_ entries: [TagHistoryEntry]) -> [String] {
                entries.map { "\($0.profile.rawValue) \($0.tag) \(String(describing: $0.old)) → \(String(describing: $0.new)) \($0.at) \($0.cause) \($0.causeRef ?? -1)" }
            }
            #expect(essence(together) == essence(oneByOne), "commits of \(layout.commits), submissions of \(layout.submission)")
        }
    }
}
