import Crypto
import Foundation
import GRDB
import Synchronization
import TagflowCore

// MARK: - Sources and admin tokens

extension SQLiteStore {
    /// Creates a source with `writeKey`, or a fresh random key when nil.
    public func createSource(name: String, writeKey: String? = nil, at now: EpochMillis) async throws -> Source {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw StoreError.invalid("a source needs a non-empty name") }
        let key = writeKey ?? Self.randomSecret(prefix: "wk_")
        let source = try await pool.write { db in
            if try Int64.fetchOne(db, sql: "SELECT id FROM sources WHERE write_key = ?", arguments: [key]) != nil {
                throw StoreError.conflict("a source with this write key already exists")
            }
            try db.execute(sql: "INSERT INTO sources(name, write_key, created_at) VALUES (?, ?, ?)",
                           arguments: [trimmed, key, now])
            return Source(id: db.lastInsertedRowID, name: trimmed, writeKey: key, createdAt: Timestamp.format(now),
                          revokedAt: nil)
        }
        invalidateLiveSources()
        return source
    }

    public func sources() async throws -> [Source] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, name, write_key, created_at, revoked_at FROM sources ORDER BY id")
                .map(Self.source)
        }
    }

    /// The live source a write key belongs to; nil for unknown or revoked keys.
    public func source(writeKey: String) async throws -> Source? {
        let (generation, cached) = liveSources.withLock { $0 }
        if let cached { return cached[writeKey] }
        let live = try await sources().filter { $0.revokedAt == nil }
        let byKey = Dictionary(live.map { ($0.writeKey, $0) }, uniquingKeysWith: { first, _ in first })
        liveSources.withLock { state in
            if state.generation == generation { state.byKey = byKey }
        }
        return byKey[writeKey]
    }

    private func invalidateLiveSources() {
        liveSources.withLock { $0 = ($0.generation + 1, nil) }
    }

    /// Revokes a source's write key: its later requests are refused; its events stay.
    public func revokeSource(id: Int64, at now: EpochMillis) async throws -> Source {
        defer { invalidateLiveSources() }
        return try await pool.write { db in
            try db.execute(sql: "UPDATE sources SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", arguments: [now, id])
            guard let row = try Row.fetchOne(db, sql: "SELECT id, name, write_key, created_at, revoked_at FROM sources WHERE id = ?",
                                             arguments: [id]) else {
                throw StoreError.notFound("source \(id)")
            }
            return Self.source(row)
        }
    }

    static func source(_ row: Row) -> Source {
        Source(id: row[0], name: row[1], writeKey: row[2], createdAt: Timestamp.format(row[3]),
               revokedAt: (row[4] as Int64?).map(Timestamp.format))
    }

    /// Stores an admin token (hashed) unless one with the same value exists. Returns true when added.
    @discardableResult
    public func addAdminToken(_ token: String, name: String, role: String = "admin", at now: EpochMillis) async throws -> Bool {
        let hash = Self.hash(token)
        return try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO admin_tokens(name, token_hash, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING
                """, arguments: [name, hash, role, now])
            return db.changesCount > 0
        }
    }

    /// The role of a live admin token, or nil.
    public func adminRole(token: String) async throws -> String? {
        let hash = Self.hash(token)
        return try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT role FROM admin_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                                arguments: [hash])
        }
    }

    public func adminTokenCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM admin_tokens WHERE revoked_at IS NULL") ?? 0 }
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A URL-safe random secret of 32 characters after `prefix`.
    public static func randomSecret(prefix: String) -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return prefix + String((0..<32).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
    }
}

// MARK: - Profiles, events, stats

extension SQLiteStore {
    /// The profile `id`, following merges to the survivor; nil when it never existed.
    public func profile(id: ProfileID) async throws -> ProfileView? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, merged_into FROM profiles WHERE id = ?", arguments: [id.rawValue])
            else { return nil }
            let mergedInto: Int64? = row[1]
            let liveID = mergedInto ?? id.rawValue
            // Its events: the filed ones and those after them (`EventFiling`).
            guard let live = try Row.fetchOne(db, sql: """
                SELECT p.id, p.created_at, min(x.ts), max(x.ts), count(x.ts) FROM profiles p LEFT JOIN (
                    SELECT ts FROM events_by_profile WHERE profile_id = ?1
                    UNION ALL SELECT ts FROM events WHERE seq > ?2 AND profile_id = ?1) x
                WHERE p.id = ?1 GROUP BY p.id
                """, arguments: [liveID, try EventFiling.filedUpTo(db)]) else { return nil }
            let identifiers = try Row.fetchAll(db, sql: """
                SELECT type, value, linked_at FROM identifiers WHERE profile_id = ? ORDER BY linked_at, type, value
                """, arguments: [liveID]).map {
                ProfileView.LinkedIdentifier(type: $0[0], value: $0[1], linkedAt: Timestamp.format($0[2]))
            }
            var traits = JSONObject()
            for trait in try Row.fetchAll(db, sql: TraitLog.currentSQL(of: "(?1)") + " ORDER BY key", arguments: [liveID]) {
                traits.fields.append(JSONField(trait[1], (try? JSONParser.parse(trait[2] as String)) ?? .null))
            }
            return ProfileView(
                id: ProfileID(liveID), requestedId: mergedInto == nil ? nil : id,
                createdAt: Timestamp.format(live[1]), firstSeen: (live[2] as Int64?).map(Timestamp.format),
                lastSeen: (live[3] as Int64?).map(Timestamp.format), eventCount: live[4], identifiers: identifiers,
                traits: .object(traits), merges: try Self.merges(db, profile: liveID))
        }
    }

    static func merges(_ db: Database, profile: Int64?) throws -> [MergeRecord] {
        let sql = """
            SELECT id, at, event_seq, survivor, loser, identifier_type, identifier_value, accepted, reason FROM merges
            """
        let rows = if let profile {
            try Row.fetchAll(db, sql: sql + " WHERE survivor = ?1 OR loser = ?1 ORDER BY id", arguments: [profile])
        } else {
            try Row.fetchAll(db, sql: sql + " ORDER BY id DESC LIMIT 200")
        }
        return rows.map {
            MergeRecord(id: $0[0], at: Timestamp.format($0[1]), eventSeq: $0[2], survivor: ProfileID($0[3]),
                        loser: ($0[4] as Int64?).map(ProfileID.init), identifierType: $0[5], identifierValue: $0[6],
                        accepted: $0[7], reason: $0[8])
        }
    }

    /// The most recent merges and refused links, newest first.
    public func recentMerges() async throws -> [MergeRecord] {
        try await pool.read { try Self.merges($0, profile: nil) }
    }

    /// The profile an identifier belongs to, as the identity graph has it (the writer holds the graph while it
    /// commits: a lookup sees a commit whole or not at all).
    public func lookup(_ identifier: Identifier) async throws -> ProfileID? {
        graph.withLock { $0.profile(of: identifier) }
    }

    /// A page of a profile's events, newest first by event time. `before` is the cursor from the previous page.
    public func timeline(of profile: ProfileID, before: (timestamp: EpochMillis, seq: Int64)?, limit: Int) async throws
        -> [StoredEvent]
    {
        try await pool.read { db in
            // The filed events, read in order, merged with those after them (`EventFiling`).
            let (ts, seq) = before.map { ($0.timestamp, $0.seq) } ?? (.max, .max)
            return try Row.fetchAll(db, sql: """
                SELECT f.seq, e.message_id, e.source_id, e.type, e.name, e.profile_id, f.ts, e.received_at, e.flags, e.payload
                FROM events_by_profile f JOIN events e ON e.seq = f.seq
                WHERE f.profile_id = ?1 AND (f.ts < ?2 OR (f.ts = ?2 AND f.seq < ?3))
                UNION ALL
                SELECT seq, message_id, source_id, type, name, profile_id, ts, received_at, flags, payload FROM events
                WHERE seq > ?4 AND profile_id = ?1 AND (ts < ?2 OR (ts = ?2 AND seq < ?3))
                ORDER BY 7 DESC, 1 DESC LIMIT ?5
                """, arguments: [profile.rawValue, ts, seq, try EventFiling.filedUpTo(db), limit]).map(Self.storedEvent)
        }
    }

    /// Events in log order after sequence number `after`.
    public func events(after: Int64, limit: Int) async throws -> [StoredEvent] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT seq, message_id, source_id, type, name, profile_id, ts, received_at, flags, payload FROM events
                WHERE seq > ? ORDER BY seq LIMIT ?
                """, arguments: [after, limit]).map(Self.storedEvent)
        }
    }

    static func storedEvent(_ row: Row) -> StoredEvent {
        StoredEvent(seq: row[0], messageId: row[1], sourceId: row[2], type: row[3], name: row[4], profileId: ProfileID(row[5]),
                    timestamp: Timestamp.format(row[6]), receivedAt: Timestamp.format(row[7]),
                    clampedFromFuture: (row[8] as Int64) & 1 != 0,
                    payload: (try? JSONParser.parse(row[9] as String)) ?? .null)
    }

    /// How many tag changes the history holds.
    public func tagChangesRecorded() async throws -> Int64 {
        try await pool.read { try Int64.fetchOne($0, sql: "SELECT coalesce(max(id), 0) FROM tag_history") ?? 0 }
    }

    public func stats() async throws -> StoreStats {
        try await pool.read { db in
            func count(_ sql: String) throws -> Int64 { try Int64.fetchOne(db, sql: sql) ?? 0 }
            func counter(_ name: String) throws -> Int64 { try Counters.value(name, db) ?? 0 }
            return StoreStats(
                eventsAccepted: try counter("events_accepted"), eventsDeduplicated: try counter("events_deduplicated"),
                eventsQuarantined: try counter("events_quarantined"),
                quarantinePending: try count("SELECT count(*) FROM quarantine WHERE status = 'pending'"),
                profiles: try count("SELECT count(*) FROM profiles WHERE merged_into IS NULL"),
                identifiers: try count("SELECT count(*) FROM identifiers"),
                mergesAccepted: try count("SELECT count(*) FROM merges WHERE accepted = 1"),
                mergesRefused: try count("SELECT count(*) FROM merges WHERE accepted = 0"),
                lastSequence: try count("SELECT coalesce(max(seq), 0) FROM events"))
        }
    }
}

// MARK: - Quarantine

extension SQLiteStore {
    /// Quarantined messages with `status` (pending, replayed, discarded, or nil for all), oldest first after `after`.
    public func quarantine(status: String?, after: Int64, limit: Int) async throws -> [QuarantineEntry] {
        try await pool.read { db in
            let columns = "id, received_at, source_id, position, code, field, message, status, payload, replayed_seq"
            let rows = if let status {
                try Row.fetchAll(db, sql: "SELECT \(columns) FROM quarantine WHERE status = ? AND id > ? ORDER BY id LIMIT ?",
                                 arguments: [status, after, limit])
            } else {
                try Row.fetchAll(db, sql: "SELECT \(columns) FROM quarantine WHERE id > ? ORDER BY id LIMIT ?",
                                 arguments: [after, limit])
            }
            return rows.map(Self.quarantineEntry)
        }
    }

    public func quarantineEntry(id: Int64) async throws -> QuarantineEntry? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: """
                SELECT id, received_at, source_id, position, code, field, message, status, payload, replayed_seq
                FROM quarantine WHERE id = ?
                """, arguments: [id]).map(Self.quarantineEntry)
        }
    }

    /// Marks a pending entry discarded. Fails for entries already replayed or discarded.
    public func discardQuarantined(id: Int64, at now: EpochMillis) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE quarantine SET status = 'discarded', resolved_at = ? WHERE id = ? AND status = 'pending'",
                           arguments: [now, id])
            if db.changesCount == 0 {
                guard let status = try String.fetchOne(db, sql: "SELECT status FROM quarantine WHERE id = ?", arguments: [id]) else {
                    throw StoreError.notFound("quarantine entry \(id)")
                }
                throw StoreError.conflict("quarantine entry \(id) is already \(status)")
            }
        }
    }

    static func quarantineEntry(_ row: Row) -> QuarantineEntry {
        QuarantineEntry(id: row[0], receivedAt: Timestamp.format(row[1]), sourceId: row[2], position: row[3], code: row[4],
                        field: row[5], message: row[6], status: row[7],
                        payload: (try? JSONParser.parse(row[8] as String)) ?? .string(row[8]), replayedSeq: row[9])
    }
}
