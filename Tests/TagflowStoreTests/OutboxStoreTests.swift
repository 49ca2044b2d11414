import Foundation
import GRDB
import Testing

@testable import TagflowCore
@testable import TagflowStore

/// The outbox as the dispatcher reads it: one due message per (destination, person) — the oldest — however
/// long the queue behind it; replayed dead letters go first again; delivered messages are pruned.
@Suite struct OutboxStoreTests {
    let retries = RetryPolicy(waitsMs: [60_000], maxAgeMs: 86_400_000)

    /// A store whose `views` tag (a count of views) goes to `crm` at every change.
    func storeSendingViews(_ directory: borrowing TemporaryDirectory) throws -> (SQLiteStore, Destination) {
        let store = try SQLiteStore(directory: directory.path, durability: .normal)
        let now = Self.now()
        _ = try store.planTags(.upsert([RuleSource(text: "tag views\n  value count(view_item)")]), actor: "test", now: now, apply: true)
        let crm = try store.createDestination(DestinationInput(name: "crm", url: "https://crm.example.com/hook"), now: now)
        for on in ["tag.added", "tag.changed"] {
            _ = try store.createAutomation(name: on, trigger: AutomationTrigger(on: on, tag: "views"), destination: "crm", now: now)
        }
        return (store, crm)
    }

    func view(_ store: SQLiteStore, _ user: String, times: Int = 1) throws {
        for _ in 0..<times {
            let now = Self.now()
            _ = try store.ingest([IngestSubmission(sourceID: 1, receivedAt: now, events: [.fixture(user: user, at: now)])])
        }
    }

    static func now() -> EpochMillis { EpochMillis((Date().timeIntervalSince1970 * 1000).rounded()) }

    func due(_ store: SQLiteStore, _ destination: Destination, at time: EpochMillis = now() + 1) throws -> [OutboxMessage] {
        try store.dueMessages(now: time, destinations: [destination.id], limit: 100)
    }

    func newValue(_ message: OutboxMessage) -> JSONValue? { (try? JSONParser.parse(message.body))?["data"]?["new"] }

    @Test func onlyEachPersonsOldestMessageIsDueHoweverLongTheQueueBehindIt() throws {
        let directory = TemporaryDirectory()
        let (store, crm) = try storeSendingViews(directory)

        // Given u-1 viewing 50 times and u-2 once
        try view(store, "u-1", times: 50)
        try view(store, "u-2")

        // then only their first changes are due: 49 of u-1's wait behind the first.
        var due = try due(store, crm)
        #expect(due.map(newValue) == [1, 1])
        let first = try #require(due.first)
        #expect(try store.outboxCounts(destination: "crm")["pending"] == 51)

        // When u-1's first attempt fails, it is due again after the wait, and still nothing of u-1's behind it;
        let failedAt = Self.now()
        #expect(try store.recordAttempt(first, DeliveryOutcome(status: 500, latencyMs: 3, error: "HTTP 500"), policy: retries, now: failedAt)
                == "pending")
        due = try self.due(store, crm, at: failedAt + 1)
        #expect(due.count == 1 && due.first?.profile != first.profile)
        let retryAt = try #require(try store.nextMessageDue(destinations: [crm.id]))
        #expect(retryAt <= failedAt + 1)  // u-2's first is due
        due = try self.due(store, crm, at: failedAt + 80_000)
        #expect(due.filter { $0.profile == first.profile }.map(\.id) == [first.id])

        // when it is delivered, u-1's second change becomes due, and so on in order.
        var sent: [JSONValue?] = []
        var next: OutboxMessage? = first
        while let message = next {
            try store.recordAttempt(message, DeliveryOutcome(status: 204, latencyMs: 2), policy: retries, now: Self.now())
            sent.append(newValue(message))
            let heads = try self.due(store, crm, at: Self.now() + 80_000).filter { $0.profile == first.profile }
            #expect(heads.count <= 1)
            next = heads.first
        }
        #expect(sent == (1...50).map { JSONValue.int(Int64($0)) })
    }

    @Test func anOutboxFromBeforeHeadsIsUpgradedWithOneDueMessagePerPerson() throws {
        let directory = TemporaryDirectory()
        let now = Self.now()
        // Given a database written before messages waited behind their person's oldest pending one: three
        // pending for one person, one for another, and one delivered
        do {
            try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
            let queue = try DatabaseQueue(path: directory.path + "/tagflow.sqlite")
            try SQLiteSchema.migrator.migrate(queue, upTo: "v3-delivery")
            try queue.write { db in
                try db.execute(sql: """
                    INSERT INTO destinations(id, name, url, headers, secret, timeout_ms, status, created_at, updated_at)
                    VALUES (1, 'crm', 'https://crm.example.com/hook', '{}', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 10000, 'active', ?1, ?1)
                    """, arguments: [now])
                for (id, profile, status) in [(1, 7, "delivered"), (2, 7, "pending"), (3, 8, "pending"), (4, 7, "pending"), (5, 7, "pending")] {
                    try db.execute(sql: """
                        INSERT INTO outbox(id, destination_id, profile_id, type, body, created_at, status, next_attempt_at)
                        VALUES (?, 1, ?, 'tag.added', '{}', ?, ?, ?)
                        """, arguments: [id, profile, now, status, now])
                }
            }
        }

        // when Tagflow opens it,
        let store = try SQLiteStore(directory: directory.path, durability: .normal)

        // then each person's oldest pending message is due and the others wait behind it.
        let crm = try store.destination("crm")
        #expect(try due(store, crm).map(\.id) == [2, 3])
        try store.recordAttempt(try #require(try due(store, crm).first), DeliveryOutcome(status: 204, latencyMs: 1),
                                policy: retries, now: Self.now())
        #expect(try due(store, crm).map(\.id) == [3, 4])
    }

    @Test func aReplayedDeadLetterGoesBeforeThePersonsLaterMessages() throws {
        let directory = TemporaryDirectory()
        let (store, crm) = try storeSendingViews(directory)
        let once = RetryPolicy(waitsMs: [], maxAgeMs: 86_400_000)

        // Given u-1's first change given up after one failure, so that the second became due
        try view(store, "u-1", times: 2)
        let first = try #require(try due(store, crm).first)
        #expect(try store.recordAttempt(first, DeliveryOutcome(status: 500, latencyMs: 1, error: "HTTP 500"), policy: once, now: Self.now())
                == "dead")
        #expect(try due(store, crm).map(newValue) == [2])

        // when the dead letter is replayed, it is the one due again, the second waiting behind it;
        #expect(try store.replayDeadLetters(ids: [first.id], destination: nil, now: Self.now()) == 1)
        #expect(try due(store, crm).map(\.id) == [first.id])

        // once it is delivered, the second follows.
        try store.recordAttempt(first, DeliveryOutcome(status: 200, latencyMs: 1), policy: once, now: Self.now())
        #expect(try due(store, crm).map(newValue) == [2])
    }

    @Test func deliveredAndSkippedMessagesArePrunedAfterTheirRetentionDeadLettersAreKept() throws {
        let directory = TemporaryDirectory()
        let (store, crm) = try storeSendingViews(directory)
        let once = RetryPolicy(waitsMs: [], maxAgeMs: 86_400_000)

        // Given four people's changes: one delivered, one skipped for consent, one dead, one still pending
        for user in ["u-1", "u-2", "u-3", "u-4"] { try view(store, user) }
        let due = try due(store, crm)
        #expect(due.count == 4)
        let finishedAt = Self.now()
        try store.recordAttempt(due[0], DeliveryOutcome(status: 204, latencyMs: 1), policy: once, now: finishedAt)
        try store.recordAttempt(due[1], .consentWithdrawn("marketing"), policy: once, now: finishedAt)
        try store.recordAttempt(due[2], DeliveryOutcome(status: 500, latencyMs: 1, error: "HTTP 500"), policy: once, now: finishedAt)

        // when pruning messages finished before a moment earlier than theirs, nothing goes;
        #expect(try store.pruneOutbox(finishedBefore: finishedAt, limit: 10) == 0)

        // when pruning after it, the delivered and skipped ones go with their attempts, a batch at a time,
        #expect(try store.pruneOutbox(finishedBefore: finishedAt + 1, limit: 1) == 1)
        #expect(try store.pruneOutbox(finishedBefore: finishedAt + 1, limit: 10) == 1)
        #expect(try store.outboxCounts(destination: "crm") == ["dead": 1, "pending": 1])
        let attempts = try store.deliveryAttempts(destination: "crm", before: nil, limit: 10)
        #expect(attempts.map(\.message) == [due[2].id])

        // and the dead letter can still be replayed.
        #expect(try store.deadLetters(destination: "crm", before: nil, limit: 10).map(\.id) == [due[2].id])
    }
}
