import Crypto
import Foundation
import GRDB
import Synchronization
import TagflowCore

extension SQLiteStore {
    /// Tells the dispatcher that messages were committed to the outbox.
    func announceOutbox() {
        let enqueued = tagRuntime.withLock { runtime in
            defer { runtime.enqueued = 0 }
            return runtime.enqueued
        }
        if enqueued > 0 { outboxCommits.add(1, ordering: .releasing) }
    }

    /// A write that changes destinations: tells the dispatcher to read them again once it is committed.
    private func writeDestinations<T>(_ body: (Database) throws -> T) throws -> T {
        defer { destinationChanges.add(1, ordering: .releasing) }
        return try pool.write(body)
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
        return try writeDestinations { db in
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
        try writeDestinations { db in
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
        try writeDestinations { db in
            let destination = try Self.destination(key, db)
            try db.execute(sql: "UPDATE destinations SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?",
                           arguments: [active ? "active" : "disabled", active ? nil : reason, now, destination.id])
            return try Self.destination(String(destination.id), db)
        }
    }

    /// A new secret; the old one keeps signing beside it (a second signature) for `overlapMs`.
    public func rotateSecret(_ key: String, overlapMs: Int64 = 86_400_000, now: EpochMillis) throws -> Destination {
        try writeDestinations { db in
            let destination = try Self.destination(key, db)
            try db.execute(sql: """
                UPDATE destinations SET previous_secret = secret, previous_secret_until = ?, secret = ?, updated_at = ? WHERE id = ?
                """, arguments: [now + overlapMs, Self.newSecret(), now, destination.id])
            return try Self.destination(String(destination.id), db)
        }
    }

    /// Deletes a destination with its messages; refused while automations send to it.
    public func deleteDestination(_ key: String) throws {
        try writeDestinations { db in
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
