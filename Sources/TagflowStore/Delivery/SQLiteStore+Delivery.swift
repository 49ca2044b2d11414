import Crypto
import Foundation
import GRDB
import Synchronization
import TagflowCore

// MARK: - Destinations

extension SQLiteStore {
    /// Tells the dispatcher that messages were committed to the outbox.
    func announceOutbox() {
        let enqueued = tagRuntime.withLock { runtime in
            defer { runtime.enqueued = 0 }
            return runtime.enqueued
        }
        if enqueued > 0 { outboxCommits.add(1, ordering: .releasing) }
    }

    public func destinations() throws -> [Destination] {
        try pool.read { db in try Row.fetchAll(db, sql: "\(Self.destinationColumns) ORDER BY id").map(Self.destination) }
    }

    /// A destination by number or by name.
    public func destination(_ key: String) throws -> Destination {
        try pool.read { db in try Self.destination(key, db) }
    }

    static func destination(_ key: String, _ db: Database) throws -> Destination {
        let row = if let id = Int64(key) {
            try Row.fetchOne(db, sql: "\(destinationColumns) WHERE id = ?", arguments: [id])
        } else {
            try Row.fetchOne(db, sql: "\(destinationColumns) WHERE name = ?", arguments: [key])
        }
        guard let row else { throw DeliveryError.unknownDestination(key) }
        return destination(row)
    }

    /// Creates a destination; without a secret one is generated (`whsec_` + 32 random bytes).
    public func createDestination(_ input: DestinationInput, now: EpochMillis) throws -> Destination {
        guard let name = input.name?.trimmingCharacters(in: .whitespaces), !name.isEmpty else {
            throw DeliveryError.invalid("give the destination a `name`")
        }
        guard let url = input.url else { throw DeliveryError.invalid("give the destination a `url` (http or https)") }
        let secret = try input.secret.map(Self.checkedSecret) ?? Self.newSecret()
        let timeout = try Self.checkedTimeout(input.timeoutMs ?? 10_000)
        return try pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM destinations WHERE name = ?", arguments: [name]) == true {
                throw DeliveryError.invalid("a destination called `\(name)` exists already")
            }
            try db.execute(sql: """
                INSERT INTO destinations(name, url, headers, secret, template, purpose, rate_limit, timeout_ms, status, created_at,
                                         updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)
                """, arguments: [name, url, Self.headersJSON(input.headers ?? [:]), secret,
                                 input.template.flatMap { $0.isEmpty ? nil : $0 }, input.purpose.flatMap { $0.isEmpty ? nil : $0 },
                                 try input.rateLimit.flatMap(Self.checkedRateLimit), timeout, now, now])
            return try Self.destination(String(db.lastInsertedRowID), db)
        }
    }

    /// Changes the given fields of a destination.
    public func updateDestination(_ key: String, _ input: DestinationInput, now: EpochMillis) throws -> Destination {
        try pool.write { db in
            var destination = try Self.destination(key, db)
            if let name = input.name { destination.name = name }
            if let url = input.url { destination.url = url }
            if let headers = input.headers { destination.headers = headers }
            if let secret = input.secret { destination.secret = try Self.checkedSecret(secret) }
            if let timeout = input.timeoutMs { destination.timeoutMs = try Self.checkedTimeout(timeout) }
            if let template = input.template { destination.template = template.isEmpty ? nil : template }
            if let purpose = input.purpose { destination.purpose = purpose.isEmpty ? nil : purpose }
            if let limit = input.rateLimit { destination.rateLimit = try Self.checkedRateLimit(limit) }
            try db.execute(sql: """
                UPDATE destinations SET name = ?, url = ?, headers = ?, secret = ?, template = ?, purpose = ?, rate_limit = ?,
                       timeout_ms = ?, updated_at = ?
                WHERE id = ?
                """, arguments: [destination.name, destination.url, Self.headersJSON(destination.headers), destination.secret,
                                 destination.template, destination.purpose, destination.rateLimit, destination.timeoutMs, now,
                                 destination.id])
            return try Self.destination(String(destination.id), db)
        }
    }

    /// Enables or disables a destination. Messages wait in the outbox while it is disabled.
    public func setDestination(_ key: String, active: Bool, reason: String?, now: EpochMillis) throws -> Destination {
        try pool.write { db in
            let destination = try Self.destination(key, db)
            try db.execute(sql: "UPDATE destinations SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?",
                           arguments: [active ? "active" : "disabled", active ? nil : reason, now, destination.id])
            return try Self.destination(String(destination.id), db)
        }
    }

    /// A new secret; the old one keeps signing beside it (a second signature) for `overlapMs`.
    public func rotateSecret(_ key: String, overlapMs: Int64 = 86_400_000, now: EpochMillis) throws -> Destination {
        try pool.write { db in
            let destination = try Self.destination(key, db)
            try db.execute(sql: """
                UPDATE destinations SET previous_secret = secret, previous_secret_until = ?, secret = ?, updated_at = ? WHERE id = ?
                """, arguments: [now + overlapMs, Self.newSecret(), now, destination.id])
            return try Self.destination(String(destination.id), db)
        }
    }

    /// Deletes a destination with its messages; refused while automations send to it.
    public func deleteDestination(_ key: String) throws {
        try pool.write { db in
            let destination = try Self.destination(key, db)
            let users = try String.fetchAll(db, sql: "SELECT name FROM automations WHERE destination_id = ?", arguments: [destination.id])
            guard users.isEmpty else {
                throw DeliveryError.invalid("automations send to `\(destination.name)`: "
                    + users.map { "`\($0)`" }.joined(separator: ", ") + "; delete them first")
            }
            try db.execute(sql: "DELETE FROM outbox WHERE destination_id = ?", arguments: [destination.id])
            try db.execute(sql: "DELETE FROM destinations WHERE id = ?", arguments: [destination.id])
        }
    }

    static let destinationColumns = """
        SELECT id, name, url, headers, secret, previous_secret, previous_secret_until, timeout_ms, status, status_reason,
               created_at, updated_at, template, purpose, rate_limit FROM destinations
        """

    static func destination(_ row: Row) -> Destination {
        let headers: [String: String] = ((try? JSONParser.parse(row[3] as String))?.objectValue).map { object in
            Dictionary(object.fields.map { ($0.key, $0.value.stringValue ?? $0.value.jsonString) }, uniquingKeysWith: { a, _ in a })
        } ?? [:]
        return Destination(
            id: row[0], name: row[1], url: row[2], headers: headers, secret: row[4], previousSecret: row[5],
            previousSecretUntil: (row[6] as Int64?).map(Timestamp.format), template: row[12], purpose: row[13], rateLimit: row[14], timeoutMs: row[7],
            status: Destination.Status(rawValue: row[8]) ?? .disabled, statusReason: row[9],
            createdAt: Timestamp.format(row[10]), updatedAt: Timestamp.format(row[11]))
    }

    static func headersJSON(_ headers: [String: String]) -> String {
        JSONValue.object(JSONObject(headers.sorted { $0.key < $1.key }.map { JSONField($0.key, .string($0.value)) })).jsonString
    }

    static func newSecret() -> String {
        "whsec_" + Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
    }

    /// A `whsec_` secret whose key is 24 to 64 bytes.
    static func checkedSecret(_ secret: String) throws -> String {
        guard secret.hasPrefix("whsec_"), let key = Data(base64Encoded: String(secret.dropFirst(6))), (24...64).contains(key.count) else {
            throw DeliveryError.invalid("`secret` must be `whsec_` followed by the base64 of 24 to 64 random bytes (or leave it out to have one made)")
        }
        return secret
    }

    /// A rate limit of 1 to 10,000 requests a second; 0 means none.
    static func checkedRateLimit(_ perSecond: Int) throws -> Int? {
        guard perSecond != 0 else { return nil }
        guard (1...10_000).contains(perSecond) else {
            throw DeliveryError.invalid("`rateLimit` must be from 1 to 10000 requests a second, or 0 for none (\(perSecond) given)")
        }
        return perSecond
    }

    static func checkedTimeout(_ milliseconds: Int) throws -> Int {
        guard (100...60_000).contains(milliseconds) else {
            throw DeliveryError.invalid("`timeoutMs` must be from 100 to 60000 (\(milliseconds) given)")
        }
        return milliseconds
    }
}

// MARK: - Automations

extension SQLiteStore {
    public func automations() throws -> [Automation] {
        try pool.read { db in try Self.automations(db) }
    }

    static func automations(_ db: Database) throws -> [Automation] {
        try Row.fetchAll(db, sql: "SELECT id, name, trigger, destination_id, enabled, created_at FROM automations ORDER BY id").compactMap { row in
            guard let trigger = try? JSONDecoder().decode(AutomationTrigger.self, from: Data((row[2] as String).utf8)) else { return nil }
            return Automation(id: row[0], name: row[1], trigger: trigger, destination: row[3], enabled: row[4],
                              createdAt: Timestamp.format(row[5]))
        }
    }

    /// Creates an automation: from now on, each change its trigger matches goes to its destination.
    public func createAutomation(name: String, trigger: AutomationTrigger, destination key: String, now: EpochMillis) throws -> Automation {
        guard AutomationTrigger.kinds.contains(trigger.on) else {
            throw DeliveryError.invalid("`trigger.on` must be one of " + AutomationTrigger.kinds.joined(separator: ", ")
                + " (`\(trigger.on)` given)")
        }
        let wantsSegment = trigger.on.hasPrefix("segment.")
        let field = wantsSegment ? "segment" : "tag"
        if trigger.value != nil, trigger.on != "tag.added", trigger.on != "tag.changed" {
            throw DeliveryError.invalid("`trigger.value` only goes with tag.added and tag.changed")
        }
        if trigger.on == "event" {
            guard let event = trigger.event, !event.isEmpty else {
                throw DeliveryError.invalid("`event` needs `trigger.event`: an event name, or `any`")
            }
            do {
                _ = try EventFilter(event: event, where: trigger.condition)
            } catch let error as RuleError {
                throw DeliveryError.invalid("`trigger.where` does not check: " + error.diagnostics.map(\.description).joined(separator: "; "))
            }
        } else if trigger.on != "profile.merged" {
            guard let subject = trigger.subject, !subject.isEmpty else { throw DeliveryError.invalid("`\(trigger.on)` needs `trigger.\(field)`") }
            try checkSubject(subject, wantsSegment: wantsSegment)
        }
        let encoded = String(decoding: try JSONEncoder().encode(trigger), as: UTF8.self)
        return try pool.write { db in
            let destination = try Self.destination(key, db)
            try db.execute(sql: """
                INSERT INTO automations(name, trigger, destination_id, enabled, created_at) VALUES (?, ?, ?, 1, ?)
                """, arguments: [name, encoded, destination.id, now])
            let id = db.lastInsertedRowID
            try self.reloadAutomations(db)
            guard let automation = try Self.automations(db).first(where: { $0.id == id }) else { throw DeliveryError.unknownAutomation(id) }
            return automation
        }
    }

    /// Refuses a trigger on a tag or segment that is not active, or of the other kind.
    private func checkSubject(_ subject: String, wantsSegment: Bool) throws {
        let field = wantsSegment ? "segment" : "tag"
        try tagRuntime.withLock { runtime in
            guard let record = runtime.records[subject], record.status == .active else {
                let candidates = runtime.records.values.filter { $0.status == .active && ($0.kind == "segment") == wantsSegment }.map(\.id)
                let hint = closestMatch(to: subject, in: candidates).map { "; did you mean `\($0)`?" } ?? ""
                throw DeliveryError.invalid("no active \(field) `\(subject)`\(hint)")
            }
            guard (record.kind == "segment") == wantsSegment else {
                throw DeliveryError.invalid("`\(subject)` is a \(wantsSegment ? "tag" : "segment"); use "
                    + (wantsSegment ? "tag.added / tag.removed / tag.changed" : "segment.entered / segment.exited"))
            }
        }
    }

    public func setAutomation(_ id: Int64, enabled: Bool) throws -> Automation {
        try pool.write { db in
            try db.execute(sql: "UPDATE automations SET enabled = ? WHERE id = ?", arguments: [enabled, id])
            guard db.changesCount > 0 else { throw DeliveryError.unknownAutomation(id) }
            try self.reloadAutomations(db)
            guard let automation = try Self.automations(db).first(where: { $0.id == id }) else { throw DeliveryError.unknownAutomation(id) }
            return automation
        }
    }

    public func deleteAutomation(_ id: Int64) throws {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM automations WHERE id = ?", arguments: [id])
            guard db.changesCount > 0 else { throw DeliveryError.unknownAutomation(id) }
            try self.reloadAutomations(db)
        }
    }

    private func reloadAutomations(_ db: Database) throws {
        let index = try AutomationIndex.load(db)
        tagRuntime.withLock { $0.automations = index }
    }
}

// MARK: - The outbox

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
