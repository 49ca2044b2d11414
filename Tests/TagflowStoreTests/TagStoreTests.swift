import Foundation
import GRDB
import Synchronization
import Testing

@testable import TagflowCore
@testable import TagflowStore

/// Tag state in the store: recorded with the events, rebuilt identically from the log after a restart.
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

    @Test func aValueIsStoredAsItsJSONText() {
        var random = SplitMix64(seed: 5)
        var values: [RuleValue] = [.bool(true), .bool(false), .null, .string("玻尿酸 \"VIP\""), .number(-0.0), .number(9e15),
                                   .number(-9e15 + 1), .number(.infinity), .time(1_772_400_000_000), .list([.number(1), .string("a")])]
        for _ in 0..<500 {
            let raw = Double(Int64(bitPattern: random.next()) >> Int64(random.next() % 64))
            values += [.number(raw), .number(raw / 8), .number(raw / 3)]
        }
        for value in values { #expect(value.storedJSON.text == value.json.jsonString, "\(value)") }
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

    /// A store that takes its history in as `log` says (``TagStateLog``), with profiles 1–3 after a
    /// history with every cause of change: events, a merge, a late event, time passing, a tag defined after its
    /// events (back-filled), and an edit. Returns each profile's tags too.
    func storeWithHistory(
        in directory: borrowing TemporaryDirectory, log: TagStateLog, from t0: EpochMillis
    ) async throws -> (SQLiteStore, [[ProfileTag]]) {
        let store = try SQLiteStore(directory: directory.path)
        store.tagRuntime.withLock { $0.stateLog = log }
        let edited = Self.rules.replacingOccurrences(of: "in last 1 days >= 2", with: "in last 3 days >= 1")
        let payment = Event(type: .track, name: "pay_order", userId: "u-3", timestamp: t0 + 7000, receivedAt: t0 + 7000,
                            identifiers: [Identifier("user_id", "u-3")], payload: ["type": "track", "event": "pay_order"])
        let steps: [() throws -> Void] = [
            { try self.submit(store, [self.view("玻尿酸", anonymous: "a-1", at: t0 + 1000)], at: t0 + 1000) },
            { try self.submit(store, [self.view("热玛吉", user: "u-1", at: t0 + 2000)], at: t0 + 2000) },
            { _ = try store.planTags(.upsert([RuleSource(text: Self.rules)]), actor: "test", now: t0 + 2500, apply: true) },
            { try self.submit(store, [self.view("水光针", user: "u-1", anonymous: "a-1", at: t0 + 3000)], at: t0 + 3000) },  // merge
            { try self.submit(store, [self.view("超声炮", user: "u-1", at: t0 - 3_600_000)], at: t0 + 4000) },  // an hour late
            {
                try self.submit(store, [self.view("玻尿酸", user: "u-3", at: t0 + 5000), self.view("玻尿酸", user: "u-3", at: t0 + 6000)],
                                at: t0 + 6000)
            },
            { try self.submit(store, [payment], at: t0 + 7000) },
            { try store.advanceTags(to: t0 + 2 * 86_400_000) },  // `twice` leaves with time, and comes back with the edit
            { _ = try store.planTags(.upsert([RuleSource(text: edited)]), actor: "test", now: t0 + 2 * 86_400_000, apply: true) },
        ]
        for step in steps {
            try step()
            try await expectStoredStateIsTheEngines(store)
        }
        var tags: [[ProfileTag]] = []
        for id in 1...3 { tags.append(try await store.tags(of: ProfileID(Int64(id)))) }
        return (store, tags)
    }

    /// `profile_tags` with the history it has not taken in is the engine's state, since-times included.
    func expectStoredStateIsTheEngines(_ store: SQLiteStore, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
        let stored = try await store.pool.read { db in
            var log = TagStateLog()
            return try log.loadStored(db)
        }
        store.tagRuntime.withLock { runtime in
            for profile in Set(stored.keys).union(runtime.engine.profileIDsInEngine) {
                let engine = runtime.engine.tags(of: profile).map { "\($0.tag)=\($0.value)@\($0.since)" }.sorted()
                let kept = (stored[profile] ?? [:]).map { "\($0.key)=\($0.value.0)@\($0.value.1)" }.sorted()
                #expect(kept == engine, "profile \(profile)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: [
        TagStateLog(fileAfter: 1, saveAfter: 1, chunk: 1_000),  // everything taken in at once
        TagStateLog(fileAfter: 3, saveAfter: 4, chunk: 2),  // a little at a time
        TagStateLog(fileAfter: 3, saveAfter: 8, chunk: 2),  // changes recorded while a save goes on, one going on at the end
        TagStateLog(fileAfter: 1_000, saveAfter: 1_000, chunk: 1_000),  // nothing taken in
    ])
    func theStateIsTheSameAfterARestartHoweverMuchOfTheHistoryWasTakenIn(log: TagStateLog) async throws {
        let t0: EpochMillis = 1_772_400_000_000
        // Given changes recorded while the history is taken in at once, a little at a time, or not at all
        let directory = TemporaryDirectory()
        let (store, before) = try await storeWithHistory(in: directory, log: log, from: t0)
        #expect(before[0].map(\.tag) == ["first_project", "stage", "twice"])
        #expect(before[0].first?.value == .string("超声炮"))  // the late event is the earliest
        #expect(before[2].first { $0.tag == "stage" }?.value == .string("paid"))
        #expect(before[0].first { $0.tag == "twice" }?.since == Timestamp.format(t0 + 2 * 86_400_000))  // the edit
        #expect(before[2].map(\.tag) == ["first_project", "stage", "twice"])
        try store.close()

        // When Tagflow restarts
        let reopened = try SQLiteStore(directory: directory.path)

        // then every profile has the same tags, since-times included, and nothing needed correcting
        var after: [[ProfileTag]] = []
        for id in 1...3 { after.append(try await reopened.tags(of: ProfileID(Int64(id)))) }
        #expect(after == before)
        let history = try await reopened.tagHistory(profile: nil, tag: nil, before: nil, limit: 1000)
        #expect(!history.contains { $0.cause == "recovery" })
        #expect(history.contains { $0.cause == "merge" })
        // and each profile's history is all of its changes, newest first, a page at a time
        for id in 1...3 {
            let all = history.filter { $0.profile == ProfileID(Int64(id)) }
            #expect(try await reopened.tagHistory(profile: ProfileID(Int64(id)), tag: nil, before: nil, limit: 1000) == all)
            let page = try await reopened.tagHistory(profile: ProfileID(Int64(id)), tag: nil, before: all[1].id, limit: 2)
            #expect(page == Array(all.dropFirst(2).prefix(2)))
            #expect(try await reopened.tagHistory(profile: ProfileID(Int64(id)), tag: "stage", before: nil, limit: 1000)
                == all.filter { $0.tag == "stage" })
        }
        // and so is each tag's
        for tag in ["first_project", "stage", "twice"] {
            let all = history.filter { $0.tag == tag }
            #expect(try await reopened.tagHistory(profile: nil, tag: tag, before: nil, limit: 1000) == all)
            #expect(try await reopened.tagHistory(profile: nil, tag: tag, before: all[1].id, limit: 2) == Array(all.dropFirst(2).prefix(2)))
        }
        #expect(try await reopened.tagHistory(profile: nil, tag: nil, before: history[2].id, limit: 3)
            == Array(history.dropFirst(3).prefix(3)))
        try reopened.close()
    }

    @Test(arguments: [TagStateLog(fileAfter: 1, saveAfter: 1, chunk: 1_000), TagStateLog(fileAfter: 1_000, saveAfter: 1_000)])
    func aStoredStateThatDisagreesWithTheLogIsCorrectedAtTheRestart(log: TagStateLog) async throws {
        let directory = TemporaryDirectory()
        let (store, before) = try await storeWithHistory(in: directory, log: log, from: 1_772_400_000_000)
        // Given a stored value the log does not support, in `profile_tags` or in the history it has not taken in
        try await store.pool.write { db in
            try db.execute(sql: "UPDATE profile_tags SET tags = json_set(tags, '$.first_project[0]', '蜂巢皮秒') WHERE profile_id = 3")
            try db.execute(sql: """
                UPDATE tag_history SET new = '"蜂巢皮秒"'
                WHERE id = (SELECT max(id) FROM tag_history WHERE tag_id = 'first_project' AND profile_id = 3)
                  AND id > (SELECT coalesce(max(value), 0) FROM counters WHERE name = 'tag_state_history_id')
                """)
        }
        try store.close()

        // When Tagflow restarts
        let reopened = try SQLiteStore(directory: directory.path)

        // then the profile has the value the log gives, from the correction on, and the correction is in the history
        let after = try await reopened.tags(of: ProfileID(3))
        #expect(after.map(\.tag) == before[2].map(\.tag) && after.map(\.value) == before[2].map(\.value))
        let history = try await reopened.tagHistory(profile: ProfileID(3), tag: "first_project", before: nil, limit: 10)
        #expect(history.first?.cause == "recovery")
        #expect(history.first?.old == .string("蜂巢皮秒"))
        #expect(history.first?.new == .string("玻尿酸"))
        #expect(after.first { $0.tag == "first_project" }?.since == history.first?.at)
        try reopened.close()
    }
}

private extension BoundValue {
    /// The text bound, however it is given.
    var text: String? {
        switch self {
        case .text(let text): text
        case .utf8(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }
}
