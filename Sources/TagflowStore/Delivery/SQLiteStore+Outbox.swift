import Foundation
import GRDB
import Synchronization
import TagflowCore

extension SQLiteStore {
    /// Messages ready to go to the given (active) destinations: pending, due, and each the oldest pending
    /// message of its (destination, profile) pair — a later change for a person waits behind an earlier one.
    /// At most `limit` per destination, so a destination with a long queue does not crowd out the others.
    public func dueMessages(now: EpochMillis, destinations: [Int64], limit: Int) throws -> [OutboxMessage] {
        try pool.read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT id, destination_id, profile_id, type, body, created_at, status, attempts, next_attempt_at, last_status, last_error
                FROM outbox WHERE status = 'pending' AND destination_id = ? AND next_attempt_at <= ?
                ORDER BY next_attempt_at, id LIMIT ?
                """)
            return try destinations.flatMap { destination in
                try Row.fetchAll(statement, arguments: [destination, now, limit]).map(Self.message)
            }.sorted { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) }
        }
    }

    /// The earliest moment a pending message to one of the given destinations is due.
    public func nextMessageDue(destinations: [Int64]) throws -> EpochMillis? {
        try pool.read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending' AND destination_id = ?
                """)
            return try destinations.compactMap { try EpochMillis.fetchOne(statement, arguments: [$0]) }
                .filter { $0 != OutboxMessage.waiting }.min()
        }
    }

    /// Records how an attempt went: delivered; or tried again later (after the policy's next wait, or the
    /// receiver's `Retry-After` if longer); or, out of attempts or too old, dead-lettered. A 410 Gone
    /// disables the destination (the message waits for it to be enabled again).
    @discardableResult
    public func recordAttempt(_ message: OutboxMessage, _ outcome: DeliveryOutcome, policy: RetryPolicy, now: EpochMillis) throws -> String {
        try recordAttempts([(message, outcome)], policy: policy, now: now)[0]
    }

    /// Records several attempts in one transaction and returns each message's new status. The commit does
    /// not wait for the disk even at full durability: losing it to a power cut means sending those
    /// messages again, which at-least-once delivery allows (receivers drop repeats by `webhook-id`); the
    /// next durable commit (any ingest) carries it to the disk anyway.
    public func recordAttempts(
        _ attempts: [(message: OutboxMessage, outcome: DeliveryOutcome)], policy: RetryPolicy, now: EpochMillis
    ) throws -> [String] {
        defer { if attempts.contains(where: { $0.outcome.status == 410 }) { destinationChanges.add(1, ordering: .releasing) } }
        return try pool.writeWithoutTransaction { db in
            if durability == .full { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
            defer { if durability == .full { try? db.execute(sql: "PRAGMA synchronous = FULL") } }
            var statuses: [String] = []
            try db.inTransaction {
                statuses = try attempts.map { try Self.recordAttempt($0.message, $0.outcome, policy: policy, now: now, db) }
                return .commit
            }
            return statuses
        }
    }

    private static func recordAttempt(
        _ message: OutboxMessage, _ outcome: DeliveryOutcome, policy: RetryPolicy, now: EpochMillis, _ db: Database
    ) throws -> String {
        let attempt = message.attempts + 1
        try db.execute(sql: """
            INSERT INTO delivery_attempts(outbox_id, destination_id, attempt, at, status, latency_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [message.id, message.destination, attempt, now, outcome.status, outcome.latencyMs, outcome.error])
        let status: String
        var next = now
        if outcome.succeeded {
            status = "delivered"
        } else if outcome.skipped {
            status = "skipped"
        } else if outcome.status == 410 {
            status = "pending"
            try db.execute(sql: "UPDATE destinations SET status = 'disabled', status_reason = ?, updated_at = ? WHERE id = ?",
                           arguments: ["the receiver answered 410 Gone to \(message.webhookID)", now, message.destination])
        } else if attempt > policy.waitsMs.count || now - message.createdAt >= policy.maxAgeMs {
            status = "dead"
        } else {
            status = "pending"
            let wait = Double(policy.waitsMs[attempt - 1]) * Double.random(in: 0.8...1.2)
            next = now + max(Int64(wait), outcome.retryAfterMs ?? 0)
        }
        if status == "pending", try Self.hasEarlierPending(message, db) {
            next = OutboxMessage.waiting  // a replayed dead letter went ahead of it meanwhile
        }
        let result = outcome.succeeded ? "success" : outcome.skipped ? "skipped" : "failure"
        try Counters.add(1, to: "delivery_\(result):\(message.destination)", db)
        if !outcome.skipped { try Counters.add(outcome.latencyMs, to: "delivery_latency_ms:\(message.destination)", db) }
        try db.execute(sql: """
            UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_status = ?, last_error = ?,
                   finished_at = CASE WHEN ?1 = 'pending' THEN NULL ELSE ?7 END
            WHERE id = ?6
            """, arguments: [status, attempt, next, outcome.status, outcome.error, message.id, now])
        if status != "pending" { try promoteNext(destination: message.destination, profile: message.profile.rawValue, now: now, db) }
        return status
    }

    private static func hasEarlierPending(_ message: OutboxMessage, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: """
            SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'pending' AND destination_id = ? AND profile_id = ? AND id < ?)
            """), arguments: [message.destination, message.profile.rawValue, message.id]) ?? false
    }

    /// Makes the oldest pending message of a pair due now if it was waiting: its predecessor is done.
    private static func promoteNext(destination: Int64, profile: Int64, now: EpochMillis, _ db: Database) throws {
        try db.cachedStatement(sql: """
            UPDATE outbox SET next_attempt_at = ?3
            WHERE id = (SELECT min(id) FROM outbox WHERE status = 'pending' AND destination_id = ?1 AND profile_id = ?2)
              AND next_attempt_at = ?4
            """).execute(arguments: [destination, profile, now, OutboxMessage.waiting])
    }

    /// Messages given up on, newest first, for one destination or all.
    public func deadLetters(destination key: String?, before: Int64?, limit: Int) throws -> [OutboxMessage] {
        try pool.read { db in
            let destination = try key.map { try Self.destination($0, db).id }
            return try Row.fetchAll(db, sql: """
                SELECT id, destination_id, profile_id, type, body, created_at, status, attempts, next_attempt_at, last_status, last_error
                FROM outbox WHERE status = 'dead' AND (?1 IS NULL OR destination_id = ?1) AND (?2 IS NULL OR id < ?2)
                ORDER BY id DESC LIMIT ?3
                """, arguments: [destination, before, limit]).map(Self.message)
        }
    }

    /// Puts dead letters back in the queue with fresh attempts: the ones given, or all of a destination's,
    /// or all. Returns how many. Each goes before any later message of its person still pending there.
    public func replayDeadLetters(ids: [Int64]?, destination key: String?, now: EpochMillis) throws -> Int {
        defer { outboxCommits.add(1, ordering: .releasing) }
        return try pool.write { db in
            let destination = try key.map { try Self.destination($0, db).id }
            let filter = "status = 'dead' AND (?1 IS NULL OR destination_id = ?1) "
                + (ids.map { "AND id IN (\($0.map(String.init).joined(separator: ",")))" } ?? "")
            let pairs = try Row.fetchAll(db, sql: "SELECT DISTINCT destination_id, profile_id FROM outbox WHERE \(filter)",
                                         arguments: [destination])
            try db.execute(sql: """
                UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?2, created_at = ?3, finished_at = NULL
                WHERE \(filter)
                """, arguments: [destination, OutboxMessage.waiting, now])
            let replayed = db.changesCount
            let rehead = try db.cachedStatement(sql: """
                UPDATE outbox SET next_attempt_at = CASE
                    WHEN id <> (SELECT min(id) FROM outbox WHERE status = 'pending' AND destination_id = ?1 AND profile_id = ?2) THEN ?4
                    WHEN next_attempt_at = ?4 THEN ?3 ELSE next_attempt_at END
                WHERE status = 'pending' AND destination_id = ?1 AND profile_id = ?2
                """)
            for pair in pairs {
                try rehead.execute(arguments: [pair[0] as Int64, pair[1] as Int64, now, OutboxMessage.waiting])
            }
            return replayed
        }
    }

    /// Deletes delivered and skipped messages finished before `before`, with their attempts, at most `limit`
    /// of them; returns how many. Dead letters stay until they are replayed.
    public func pruneOutbox(finishedBefore before: EpochMillis, limit: Int) throws -> Int {
        try pool.write { db in
            let ids = try Int64.fetchAll(db, sql: """
                SELECT id FROM outbox WHERE status IN ('delivered', 'skipped') AND finished_at < ? ORDER BY finished_at LIMIT ?
                """, arguments: [before, limit])
            guard !ids.isEmpty else { return 0 }
            let list = ids.map(String.init).joined(separator: ",")
            try db.execute(sql: "DELETE FROM delivery_attempts WHERE outbox_id IN (\(list))")
            try db.execute(sql: "DELETE FROM outbox WHERE id IN (\(list))")
            return ids.count
        }
    }

    /// A destination's attempts, newest first.
    public func deliveryAttempts(destination key: String, before: Int64?, limit: Int) throws -> [DeliveryAttempt] {
        try pool.read { db in
            let destination = try Self.destination(key, db)
            return try Row.fetchAll(db, sql: """
                SELECT id, outbox_id, attempt, at, status, latency_ms, error FROM delivery_attempts
                WHERE destination_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3
                """, arguments: [destination.id, before, limit]).map { row in
                DeliveryAttempt(id: row[0], message: row[1], webhookID: "msg_\(row[1] as Int64)", attempt: row[2],
                                at: Timestamp.format(row[3]), status: row[4], latencyMs: row[5], error: row[6])
            }
        }
    }

    /// Per destination, for `/metrics`: messages waiting and given up, attempts by result, summed latency.
    public func deliveryMetrics() throws -> [DestinationMetrics] {
        try pool.read { db in
            let counters = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: """
                SELECT name, value FROM counters WHERE name LIKE 'delivery_%'
                """).map { ($0[0] as String, $0[1] as Int64) })
            func waiting(_ status: String, _ id: Int64) throws -> Int64 {
                try Int64.fetchOne(db, sql: "SELECT count(*) FROM outbox WHERE status = ? AND destination_id = ?", arguments: [status, id]) ?? 0
            }
            return try Row.fetchAll(db, sql: "SELECT id, name, status FROM destinations ORDER BY id").map { row in
                let id: Int64 = row[0]
                return DestinationMetrics(
                    name: row[1], active: (row[2] as String) == "active", pending: try waiting("pending", id), dead: try waiting("dead", id),
                    succeeded: counters["delivery_success:\(id)"] ?? 0, failed: counters["delivery_failure:\(id)"] ?? 0,
                    skipped: counters["delivery_skipped:\(id)"] ?? 0, latencyMsSum: counters["delivery_latency_ms:\(id)"] ?? 0)
            }
        }
    }

    /// Counts of a destination's messages by status.
    public func outboxCounts(destination key: String) throws -> [String: Int] {
        try pool.read { db in
            let destination = try Self.destination(key, db)
            return Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: """
                SELECT status, count(*) FROM outbox WHERE destination_id = ? GROUP BY status
                """, arguments: [destination.id]).map { ($0[0] as String, $0[1] as Int) })
        }
    }

    static func message(_ row: Row) -> OutboxMessage {
        OutboxMessage(id: row[0], destination: row[1], profile: ProfileID(row[2]), type: row[3], body: row[4], createdAt: row[5],
                      status: row[6], attempts: row[7], nextAttemptAt: row[8], lastStatus: row[9], lastError: row[10])
    }
}
