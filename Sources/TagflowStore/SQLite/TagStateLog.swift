import Foundation
import GRDB
import TagflowCore

/// Where tag state is kept on disk. Every change is appended to `tag_history` in the transaction that
/// causes it. The rest is the history taken in, in bulk, once enough changes have piled up: the current
/// state — each profile's tags with their values and since when — in `tag_state`, and where each profile's
/// changes are in `tag_history_by_profile`. The history rows after `tag_state_history_id` are the changes
/// neither holds yet.
///
/// (Written at every change, either cost ingestion a fifth of its speed or more: a commit's changes fall on
/// random profiles, so nearly every page of the table or index was rewritten at every commit. In bulk, a
/// page takes many changes at once.) While Tagflow runs, the current state is read from the engine.
struct TagStateLog: Sendable {
    struct Key: Hashable, Sendable {
        var tag: String
        var profile: ProfileID
    }

    /// The latest change of each tag of each profile not yet in `tag_state`: the value (nil: gone) and its moment.
    private(set) var unsaved: [Key: (value: RuleValue?, since: EpochMillis)] = [:]
    /// How many history rows are after `tag_state_history_id`.
    private(set) var unsavedRows = 0
    /// How many history rows may wait before they are taken in.
    var saveAfter: Int

    init(saveAfter: Int = 32768) {
        self.saveAfter = saveAfter
    }

    /// Appends the changes to the history, in the caller's transaction, and takes the history in when
    /// enough has piled up. `clock` is the engine's moment, stored with them.
    mutating func record(_ changes: [TagChange], clock: EpochMillis, _ db: Database) throws {
        guard !changes.isEmpty else { return }
        try Self.appendHistory(changes, db)
        for change in changes { unsaved[Key(tag: change.tag, profile: change.profile)] = (change.new, change.at) }
        unsavedRows += changes.count
        if unsavedRows >= saveAfter { try save(db) }
        try db.execute(sql: """
            INSERT INTO counters(name, value) VALUES ('tag_clock', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value
            """, arguments: [clock])
    }

    /// Takes the history after `tag_state_history_id` in, in the caller's transaction.
    mutating func save(_ db: Database) throws {
        let upsert = try BoundStatement(db.cachedStatement(sql: """
            INSERT INTO tag_state(tag_id, profile_id, value, since) VALUES (?, ?, ?, ?)
            ON CONFLICT(tag_id, profile_id) DO UPDATE SET value = excluded.value, since = excluded.since
            """))
        let delete = try BoundStatement(db.cachedStatement(sql: "DELETE FROM tag_state WHERE tag_id = ? AND profile_id = ?"))
        // In the table's order: neighbouring rows share pages.
        let keys = unsaved.keys.sorted { ($0.tag, $0.profile.rawValue) < ($1.tag, $1.profile.rawValue) }
        for key in keys {
            let (value, since) = unsaved[key]!
            if let value {
                try upsert.execute(db, .text(key.tag), .int(key.profile.rawValue), .text(value.jsonText), .int(since))
            } else {
                try delete.execute(db, .text(key.tag), .int(key.profile.rawValue))
            }
        }
        try db.execute(sql: """
            INSERT INTO tag_history_by_profile(profile_id, id)
            SELECT profile_id, id FROM tag_history WHERE id > ? ORDER BY profile_id, id
            """, arguments: [try Self.savedUpTo(db)])
        try db.execute(sql: """
            INSERT INTO counters(name, value) VALUES ('tag_state_history_id', (SELECT coalesce(max(id), 0) FROM tag_history))
            ON CONFLICT(name) DO UPDATE SET value = excluded.value
            """)
        unsaved = [:]
        unsavedRows = 0
    }

    /// The last history row taken in.
    static func savedUpTo(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'tag_state_history_id'") ?? 0
    }

    /// The stored state: `tag_state` with the history it does not hold yet folded in. What it folds in is
    /// what the log then has waiting, as it had before the restart.
    mutating func loadStored(_ db: Database) throws -> [ProfileID: [String: (RuleValue, EpochMillis)]] {
        var stored: [ProfileID: [String: (RuleValue, EpochMillis)]] = [:]
        let state = try Row.fetchCursor(db, sql: "SELECT profile_id, tag_id, value, since FROM tag_state")
        while let row = try state.next() {
            stored[ProfileID(row[0]), default: [:]][row[1]] = (RuleValue(try JSONParser.parse(row[2] as String)), row[3])
        }
        unsaved = [:]
        unsavedRows = 0
        let later = try Row.fetchCursor(db, sql: "SELECT profile_id, tag_id, new, at FROM tag_history WHERE id > ? ORDER BY id",
                                        arguments: [try Self.savedUpTo(db)])
        while let row = try later.next() {
            unsavedRows += 1
            let profile = ProfileID(row[0]), tag: String = row[1], at: EpochMillis = row[3]
            let value = try (row[2] as String?).map { RuleValue(try JSONParser.parse($0)) }
            stored[profile, default: [:]][tag] = value.map { ($0, at) }
            unsaved[Key(tag: tag, profile: profile)] = (value, at)
        }
        return stored
    }

    private static func appendHistory(_ changes: [TagChange], _ db: Database) throws {
        let history = try BoundStatement(db.cachedStatement(sql: """
            INSERT INTO tag_history(profile_id, tag_id, old, new, at, cause, cause_ref, recorded_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """))
        // When Tagflow wrote it down, beside when it happened: their difference is the tag clock's lateness.
        let recordedAt = EpochMillis((Date().timeIntervalSince1970 * 1000).rounded())
        for change in changes {
            let reference: Int64? = switch change.cause {
            case .event(let seq): seq
            case .merge(let from, let into): change.profile == from ? into.rawValue : from.rawValue
            default: nil
            }
            try history.execute(
                db, .int(change.profile.rawValue), .text(change.tag), .text(change.old?.jsonText),
                .text(change.new?.jsonText), .int(change.at), .text(change.cause.kind), .int(reference), .int(recordedAt))
        }
    }
}
