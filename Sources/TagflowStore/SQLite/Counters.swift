import GRDB

/// The `counters` table: named numbers the store keeps beside its tables (the tag clock, how far the log
/// and the tag history are filed, totals of events).
enum Counters {
    static func value(_ name: String, _ db: Database) throws -> Int64? {
        try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = ?", arguments: [name])
    }

    /// Sets `name` to the log's last sequence number: everything in the log so far is taken in.
    static func setToLastEvent(_ name: String, _ db: Database) throws {
        try set(name, try Int64.fetchOne(db, sql: "SELECT coalesce(max(seq), 0) FROM events") ?? 0, db)
    }

    /// Prepared once a connection (every commit sets the tag clock: preparing it each time cost more than
    /// running it).
    static func set(_ name: String, _ value: Int64, _ db: Database) throws {
        try BoundStatement(db.cachedStatement(sql: """
            INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value
            """)).execute(db, .text(name), .int(value))
    }

    /// Adds `amount` to `name` (from zero when it is not there yet).
    static func add(_ amount: Int64, to name: String, _ db: Database) throws {
        try BoundStatement(db.cachedStatement(sql: """
            INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value
            """)).execute(db, .text(name), .int(amount))
    }
}
