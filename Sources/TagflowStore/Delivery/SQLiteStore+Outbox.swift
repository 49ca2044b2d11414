import Foundation
import GRDB
import Synchronization
import TagflowCore

extension SQLiteStore {
    /// Messages ready to go: pending, due, to an active destination, and each the oldest pending message of
    /// its (destination, profile) pair — a later change for a person waits behind an earlier one.
    public func dueMessages(now: EpochMillis, limit: Int) throws -> [OutboxMessage] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT o.id, o.destination_id, o.profile_id, o.type, o.body, o.created_at, o.status, o.attempts,
                       o.next_attempt_at, o.last_status, o.last_error
                FROM outbox o JOIN destinations d ON d.id = o.destination_id AND d.status = 'active'
                WHERE o.status = 'pending' AND o.next_attempt_at <= ?1
                  AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.status = 'pending' AND p.destination_id = o.destination_id
                                  AND p.profile_id = o.profile_id AND p.id < o.id)
                ORDER BY o.next_attempt_at, o.id LIMIT ?2
                """, arguments: [now, limit]).map(Self.message)
        }
    }

    /// The earliest moment a pending message to an active destination is due.
    public func nextMessageDue() throws -> EpochMillis? {
        try pool.read { db in
            try EpochMillis.fetchOne(db, sql: """
                SELECT min(o.next_attempt_at) FROM outbox o JOIN destinations d ON d.id = o.destination_id AND d.status = 'active'
                WHERE o.status = 'pending'
                """)
        }
    }

    /// Records how an attempt went: delivered; or tried again later (after the policy's next wait, or the
    /// receiver's `Retry-After` if longer); or, out of attempts or too old, dead-lettered. A 410 Gone
    /// disables the destination (the message waits for it to be enabled again).
    @discardableResult
    public func recordAttempt(_ message: OutboxMessage, _ outcome: DeliveryOutcome, policy: RetryPolicy, now: EpochMillis) throws -> String {
        try recordAttempts([(message, outcome)], policy: policy, now: now)[0]
    }

    /// Records several attempts in one transaction (one disk flush for all); returns each message's new status.
    public func recordAttempts(
        _ attempts: [(message: OutboxMessage, outcome: DeliveryOutcome)], policy: RetryPolicy, now: EpochMillis
    ) throws -> [String] {
        try pool.write { db in
            try attempts.map { try Self.recordAttempt($0.message, $0.outcome, policy: policy, now: now, db) }
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
        let result = outcome.succeeded ? "success" : outcome.skipped ? "skipped" : "failure"
        let bump = try db.cachedStatement(sql: """
            INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value
            """)
        try bump.execute(arguments: ["delivery_\(result):\(message.destination)", 1])
        if !outcome.skipped { try bump.execute(arguments: ["delivery_latency_ms:\(message.destination)", outcome.latencyMs]) }
        try db.execute(sql: """
            UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_status = ?, last_error = ?,
                   finished_at = CASE WHEN ?1 = 'pending' THEN NULL ELSE ?7 END
            WHERE id = ?6
            """, arguments: [status, attempt, next, outcome.status, outcome.error, message.id, now])
        return status
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
    /// or all. Returns how many.
    public func replayDeadLetters(ids: [Int64]?, destination key: String?, now: EpochMillis) throws -> Int {
        defer { outboxCommits.add(1, ordering: .releasing) }
        return try pool.write { db in
            let destination = try key.map { try Self.destination($0, db).id }
            let list = ids.map { $0.map(String.init).joined(separator: ",") }
            try db.execute(sql: """
                UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, created_at = ?, finished_at = NULL
                WHERE status = 'dead' AND (?2 IS NULL OR destination_id = ?2) \(list.map { "AND id IN (\($0))" } ?? "")
                """, arguments: [now, destination])
            return db.changesCount
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
