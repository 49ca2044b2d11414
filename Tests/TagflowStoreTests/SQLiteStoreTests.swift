import Foundation
import GRDB
import Testing

@testable import TagflowCore
@testable import TagflowStore

/// A fresh data directory per test, removed afterwards.
struct TemporaryDirectory: ~Copyable {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("tagflow-test-\(UUID().uuidString)").path

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A database as an older version left it in `directory`: migrated up to `version`, then filled by `fill`.
func makeOlderDatabase(at directory: String, upTo version: String, _ fill: @escaping @Sendable (Database) throws -> Void)
    async throws
{
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let pool = try DatabasePool(path: directory + "/tagflow.sqlite")
    try SQLiteSchema.migrator.migrate(pool, upTo: version)
    try await pool.write(fill)
    try pool.close()
}

extension Event {
    static func fixture(
        _ type: EventType = .track, name: String? = "view_item", user: String? = nil, anonymous: String? = nil,
        messageId: String? = nil, at timestamp: EpochMillis, traits: JSONObject = [:], extra: [Identifier] = []
    ) -> Event {
        var identifiers: [Identifier] = []
        if let user { identifiers.append(Identifier("user_id", user)) }
        if let anonymous { identifiers.append(Identifier("anonymous_id", anonymous)) }
        var payload: JSONObject = ["type": .string(type.rawValue)]
        if let name { payload["event"] = .string(name) }
        return Event(messageId: messageId, type: type, name: name, userId: user, anonymousId: anonymous,
                     timestamp: timestamp, receivedAt: timestamp, identifiers: identifiers + extra, traits: traits,
                     payload: payload)
    }
}

@Suite struct SQLiteStoreTests {
    func submit(_ store: SQLiteStore, _ events: [Event]) throws -> IngestReceipt {
        try store.ingest([IngestSubmission(sourceID: 1, receivedAt: 1000, events: events)])[0]
    }

    @Test func acceptedEventsSurviveARestartAndRetriesAreDeduplicated() async throws {
        let directory = TemporaryDirectory()
        let batch = (0..<3).map { Event.fixture(anonymous: "a\($0)", messageId: "m\($0)", at: 1000 + Int64($0)) }
        do {
            let store = try SQLiteStore(directory: directory.path)
            let first = try submit(store, batch)
            #expect(first.accepted == 3)
            try store.close()
        }

        let reopened = try SQLiteStore(directory: directory.path)
        let retry = try submit(reopened, batch + [Event.fixture(anonymous: "a9", messageId: "m9", at: 2000)])

        #expect(retry.accepted == 1)
        #expect(retry.deduplicated == 3)
        let stats = try await reopened.stats()
        #expect(stats.eventsAccepted == 4)
        #expect(stats.eventsDeduplicated == 3)
        #expect(stats.lastSequence == 4)
        #expect(stats.profiles == 4)
    }

    @Test func theSameMessageIdFromAnotherSourceIsADifferentEvent() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(directory: directory.path)
        let event = Event.fixture(anonymous: "a", messageId: "same", at: 1)
        let receipts = try store.ingest([
            IngestSubmission(sourceID: 1, receivedAt: 1, events: [event]),
            IngestSubmission(sourceID: 2, receivedAt: 1, events: [event]),
            IngestSubmission(sourceID: 2, receivedAt: 1, events: [event]),
        ])
        #expect(receipts.map(\.accepted) == [1, 1, 0])
        #expect(receipts.map(\.deduplicated) == [0, 0, 1])
    }

    @Test func aMergeRepointsHistoryUnitesIdentifiersAndKeepsTheNewestTraits() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(directory: directory.path)
        // Given a logged-in web visitor and an anonymous app user.
        _ = try submit(store, [
            .fixture(.identify, name: nil, user: "u1", anonymous: "web", at: 100, traits: ["city": "上海"]),
            .fixture(anonymous: "web", at: 110),
        ])
        _ = try submit(store, [
            .fixture(anonymous: "app", at: 40),
            .fixture(.identify, name: nil, anonymous: "app", at: 50, traits: ["city": "北京", "vip": true]),
        ])
        let web = try #require(try await store.lookup(Identifier("user_id", "u1")))
        let app = try #require(try await store.lookup(Identifier("anonymous_id", "app")))
        #expect(web != app)

        // When the app user logs in as u1.
        _ = try submit(store, [.fixture(user: "u1", anonymous: "app", at: 200)])

        // Then one profile holds everything, with the newer city.
        let profile = try #require(try await store.profile(id: web))
        #expect(profile.eventCount == 5)
        #expect(Set(profile.identifiers.map { "\($0.type):\($0.value)" }) == ["user_id:u1", "anonymous_id:web", "anonymous_id:app"])
        #expect(profile.traits["city"] == "上海")
        #expect(profile.traits["vip"] == true)
        #expect(profile.firstSeen == Timestamp.format(40))
        #expect(profile.lastSeen == Timestamp.format(200))
        #expect(profile.merges.map(\.accepted) == [true])
        #expect(profile.merges.first?.loser == app)
        let timeline = try await store.timeline(of: web, before: nil, limit: 10)
        #expect(timeline.map(\.profileId) == Array(repeating: web, count: 5))
        #expect(timeline.map(\.timestamp) == [200, 110, 100, 50, 40].map(Timestamp.format))
        let viaLoser = try #require(try await store.profile(id: app))
        #expect(viaLoser.id == web)
        #expect(viaLoser.requestedId == app)
        let stats = try await store.stats()
        #expect(stats.profiles == 1)
        #expect(stats.mergesAccepted == 1)
    }

    @Test func identifiersStoredBeforeTheUpgradeStillFindTheirProfiles() async throws {
        // Given a database of the version before identifiers were appended, with two profiles' identifiers,
        let directory = TemporaryDirectory()
        try await makeOlderDatabase(at: directory.path, upTo: "v7-message-keys-in-runs") { db in
            try db.execute(sql: """
                INSERT INTO profiles(id, created_at) VALUES (1, 10), (2, 20);
                INSERT INTO identifiers(type, value, profile_id, linked_at)
                VALUES ('user_id', 'u1', 1, 10), ('anonymous_id', 'web', 1, 10), ('anonymous_id', 'app', 2, 20);
                """)
        }

        // when this version opens it,
        var store = try SQLiteStore(directory: directory.path)

        // then each identifier finds its profile, a profile lists its identifiers,
        #expect(try await store.lookup(Identifier("user_id", "u1")) == ProfileID(1))
        #expect(try await store.lookup(Identifier("anonymous_id", "app")) == ProfileID(2))
        let web = try #require(try await store.profile(id: ProfileID(1)))
        #expect(Set(web.identifiers.map { "\($0.type):\($0.value)" }) == ["user_id:u1", "anonymous_id:web"])
        // an event of a known visitor lands on its profile, and a login joins the two, across a restart.
        _ = try submit(store, [.fixture(anonymous: "app", at: 30)])
        #expect(try await store.stats().profiles == 2)
        _ = try submit(store, [.fixture(user: "u1", anonymous: "app", at: 40)])
        try store.close()
        store = try SQLiteStore(directory: directory.path)
        #expect(try await store.stats().profiles == 1)
        #expect(try await store.lookup(Identifier("anonymous_id", "app")) == store.lookup(Identifier("user_id", "u1")))
        #expect(try await store.profile(id: ProfileID(1))?.identifiers.count == 3)
    }

    @Test func aLateIdentifyDoesNotOverwriteANewerTrait() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(directory: directory.path)
        _ = try submit(store, [.fixture(.identify, name: nil, user: "u1", at: 500, traits: ["stage": "客户"])])

        _ = try submit(store, [.fixture(.identify, name: nil, user: "u1", at: 100, traits: ["stage": "潜客", "age": 30])])

        let id = try #require(try await store.lookup(Identifier("user_id", "u1")))
        let profile = try #require(try await store.profile(id: id))
        #expect(profile.traits["stage"] == "客户")
        #expect(profile.traits["age"] == 30)
    }

    @Test func aRetryChangesNothingNotEvenIdentities() async throws {
        // Given a shared iPad used by u1, then by u2 in a message whose link to u1's profile was refused,
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(directory: directory.path)
        _ = try submit(store, [.fixture(user: "u1", anonymous: "shared-ipad", messageId: "m1", at: 1)])
        _ = try submit(store, [.fixture(user: "u2", anonymous: "shared-ipad", messageId: "m2", at: 2)])
        let before = try await store.stats()
        #expect(before.mergesRefused == 1)

        // when the client sends both messages again,
        let retry = try submit(store, [.fixture(user: "u1", anonymous: "shared-ipad", messageId: "m1", at: 1),
                                       .fixture(user: "u2", anonymous: "shared-ipad", messageId: "m2", at: 2)])

        // then nothing is stored or recorded again: the refusal was the first message's.
        #expect(retry.deduplicated == 2)
        let after = try await store.stats()
        #expect(after.eventsDeduplicated == 2)
        #expect(after.mergesRefused == 1)
        #expect(after.profiles == before.profiles)
        #expect(after.identifiers == before.identifiers)
    }

    @Test func aRefusedMergeIsRecordedWithItsReason() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(directory: directory.path)
        _ = try submit(store, [.fixture(user: "u1", anonymous: "shared-ipad", at: 1)])

        _ = try submit(store, [.fixture(user: "u2", anonymous: "shared-ipad", at: 2)])

        let u2 = try #require(try await store.lookup(Identifier("user_id", "u2")))
        let profile = try #require(try await store.profile(id: u2))
        let refusal = try #require(profile.merges.first)
        #expect(!refusal.accepted)
        #expect(refusal.reason?.contains("user_id") == true)
        #expect(try await store.stats().mergesRefused == 1)
        #expect(try await store.stats().profiles == 2)
    }

    @Test func theIdentityGraphIsRebuiltOnRestart() async throws {
        let directory = TemporaryDirectory()
        var profile: ProfileID?
        do {
            let store = try SQLiteStore(directory: directory.path)
            _ = try submit(store, [.fixture(user: "u1", anonymous: "a1", at: 1), .fixture(anonymous: "other", at: 2)])
            profile = try await store.lookup(Identifier("anonymous_id", "a1"))
            try store.close()
        }
        let store = try SQLiteStore(directory: directory.path)

        _ = try submit(store, [.fixture(anonymous: "a1", at: 3), .fixture(anonymous: "new", at: 4)])

        #expect(try await store.lookup(Identifier("anonymous_id", "a1")) == profile)
        let fresh = try #require(try await store.lookup(Identifier("anonymous_id", "new")))
        #expect(fresh.rawValue == 3)
        #expect(try await store.profile(id: try #require(profile))?.eventCount == 2)
    }

    @Test func quarantinedMessagesAreKeptAndCanBeDiscardedOnce() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(directory: directory.path)
        let rejection = Rejection(position: 4, code: "missing_event", field: "event", message: "no event")
        let receipt = try store.ingest([IngestSubmission(
            sourceID: 1, receivedAt: 77, events: [.fixture(anonymous: "a", at: 77)],
            rejections: [QuarantinedMessage(rejection: rejection, payload: ["type": "track", "userId": "u"])])])[0]
        #expect(receipt.quarantined == 1)
        #expect(receipt.accepted == 1)

        let entries = try await store.quarantine(status: "pending", after: 0, limit: 10)
        #expect(entries.count == 1)
        #expect(entries.first?.position == 4)
        #expect(entries.first?.field == "event")
        #expect(entries.first?.payload["userId"] == "u")

        let id = try #require(entries.first?.id)
        try await store.discardQuarantined(id: id, at: 80)
        #expect(try await store.quarantineEntry(id: id)?.status == "discarded")
        await #expect(throws: StoreError.self) { try await store.discardQuarantined(id: id, at: 81) }
        #expect(try await store.stats().quarantinePending == 0)
    }

    @Test func sourcesCanBeCreatedListedAndRevoked() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(directory: directory.path)
        let web = try await store.createSource(name: "web", at: 1)
        let mp = try await store.createSource(name: "小程序", writeKey: "mp-key", at: 2)
        #expect(web.writeKey.hasPrefix("wk_"))
        #expect(try await store.source(writeKey: "mp-key")?.id == mp.id)
        await #expect(throws: StoreError.self) { try await store.createSource(name: "dup", writeKey: "mp-key", at: 3) }
        await #expect(throws: StoreError.self) { try await store.createSource(name: "  ", at: 3) }

        _ = try await store.revokeSource(id: mp.id, at: 5)

        #expect(try await store.source(writeKey: "mp-key") == nil)
        #expect(try await store.sources().map(\.name) == ["web", "小程序"])
    }

    @Test func adminTokensAreStoredHashed() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(directory: directory.path)
        try await store.addAdminToken("secret-token", name: "ops", at: 1)

        #expect(try await store.adminRole(token: "secret-token") == "admin")
        #expect(try await store.adminRole(token: "secret-tokem") == nil)
        let raw = try String(contentsOfFile: store.path, encoding: .isoLatin1)
        #expect(!raw.contains("secret-token"))
    }
}
