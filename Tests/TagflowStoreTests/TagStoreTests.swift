import Foundation
import Testing

@testable import TagflowCore
@testable import TagflowStore

/// Tag state in the store: written with the events, rebuilt identically from the log after a restart.
@Suite struct TagStoreTests {
    static let rules = """
        tag twice "看了两次"
          when count(view_item) in last 1 days >= 2
        tag stage "阶段"
          case "paid" when exists(pay_order)
          case "browsing" when exists(view_item)
        tag first_project
          value first(view_item.project)
        """

    func submit(_ store: SQLiteStore, _ events: [Event], at receivedAt: EpochMillis) throws {
        _ = try store.ingest([IngestSubmission(sourceID: 1, receivedAt: receivedAt, events: events)])
    }

    func view(_ project: String, user: String? = nil, anonymous: String? = nil, at t: EpochMillis) -> Event {
        let payload: JSONObject = ["type": "track", "event": "view_item", "properties": ["project": .string(project)]]
        var identifiers: [Identifier] = []
        if let user { identifiers.append(Identifier("user_id", user)) }
        if let anonymous { identifiers.append(Identifier("anonymous_id", anonymous)) }
        return Event(type: .track, name: "view_item", userId: user, anonymousId: anonymous, timestamp: t, receivedAt: t,
                     identifiers: identifiers, payload: payload)
    }

    @Test func stateAfterMergesAndLateEventsIsRebuiltIdenticallyAfterARestart() async throws {
        let directory = TemporaryDirectory()
        let t0: EpochMillis = 1_772_400_000_000
        var before: [[ProfileTag]] = []
        do {
            let store = try SQLiteStore(directory: directory.path)
            _ = try store.planTags(.upsert([RuleSource(text: Self.rules)]), actor: "test", now: t0, apply: true)
            // Given an anonymous visitor and a logged-in one who are the same person, a late event, and a payment
            try submit(store, [view("玻尿酸", anonymous: "a-1", at: t0 + 1000)], at: t0 + 1000)
            try submit(store, [view("热玛吉", user: "u-1", at: t0 + 2000)], at: t0 + 2000)
            try submit(store, [view("水光针", user: "u-1", anonymous: "a-1", at: t0 + 3000)], at: t0 + 3000)  // merge
            try submit(store, [view("超声炮", user: "u-1", at: t0 - 3_600_000)], at: t0 + 4000)  // an hour late
            try submit(store, [Event(type: .track, name: "pay_order", userId: "u-2", timestamp: t0 + 5000, receivedAt: t0 + 5000,
                                     identifiers: [Identifier("user_id", "u-2")], payload: ["type": "track", "event": "pay_order"])],
                       at: t0 + 5000)
            for id in 1...3 { before.append(try await store.tags(of: ProfileID(Int64(id)))) }
            try store.close()
        }
        #expect(before[0].map(\.tag) == ["first_project", "stage", "twice"])
        #expect(before[0].first?.value == .string("超声炮"))  // the late event is the earliest

        // When Tagflow restarts
        let reopened = try SQLiteStore(directory: directory.path)

        // then every profile's tags are the same, since-times included, and nothing needed correcting.
        var after: [[ProfileTag]] = []
        for id in 1...3 { after.append(try await reopened.tags(of: ProfileID(Int64(id)))) }
        #expect(after == before)
        let history = try await reopened.tagHistory(profile: nil, tag: nil, before: nil, limit: 1000)
        #expect(!history.contains { $0.cause == "recovery" })
        #expect(history.contains { $0.cause == "merge" })
        try reopened.close()
    }

    @Test func aDryRunChangesNothingAndApplyingRecordsDefinitionChanges() async throws {
        let directory = TemporaryDirectory()
        let t0: EpochMillis = 1_772_400_000_000
        let store = try SQLiteStore(directory: directory.path)
        try submit(store, [view("玻尿酸", user: "u-1", at: t0), view("玻尿酸", user: "u-1", at: t0 + 1)], at: t0 + 1)

        let dry = try store.planTags(.upsert([RuleSource(text: Self.rules)]), actor: "test", now: t0 + 10, apply: false)
        #expect(!dry.applied)
        #expect(dry.entries.first { $0.tag == "twice" }?.gained == 1)
        #expect(try await store.tagDefinitions().isEmpty)
        #expect(try await store.tags(of: ProfileID(1)).isEmpty)

        let applied = try store.planTags(.upsert([RuleSource(text: Self.rules)]), actor: "test", now: t0 + 10, apply: true)
        #expect(applied.applied)
        let history = try await store.tagHistory(profile: ProfileID(1), tag: "twice", before: nil, limit: 10)
        #expect(history.map(\.cause) == ["definition"])
        #expect(try await store.tagVersions("twice").map(\.version) == [1])
        try store.close()
    }
}
