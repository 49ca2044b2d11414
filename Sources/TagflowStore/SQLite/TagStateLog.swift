import Foundation
import GRDB
import TagflowCore

/// Where tag state is kept on disk. Every change is appended to `tag_history` in the transaction that
/// causes it; the rest is that history taken in, in bulk:
/// - where each profile's and each tag's changes are, in `tag_history_by_profile` and `tag_history_by_tag`,
///   every ``fileAfter`` changes (up to the counter `tag_history_filed_id`; later changes are found by
///   reading the rows after it: ``filedHistory(by:is:columns:where:below:order:)``);
/// - the current state — each profile's tags with their values and since when — in `tag_state`, every
///   ``saveAfter`` changes, a ``chunk`` of tags of profiles per commit in the table's order, so no commit
///   waits long (up to the counter `tag_state_history_id`; `tag_state` with the history rows after it is the
///   stored state).
///
/// (Written at every change, they cost ingestion half of its speed: a commit's changes fall on random
/// profiles, so nearly every page of `tag_state` and of the index by profile was rewritten at every commit,
/// and the index by tag had a page rewritten for every tag. In bulk, a page takes many changes at once.)
/// While Tagflow runs, the current state is read from the engine.
struct TagStateLog: Sendable {
    typealias Value = (value: RuleValue?, since: EpochMillis)

    /// How many history rows may wait to be filed by profile and by tag.
    let fileAfter: Int
    /// How many history rows may wait for `tag_state` before a save begins.
    let saveAfter: Int
    /// How many tags of profiles a commit writes to `tag_state` while a save goes on.
    let chunk: Int

    /// The latest change of each tag of each profile not yet in a save, by tag and profile: the value (nil:
    /// gone) and its moment.
    private(set) var unsaved: [String: [ProfileID: Value]] = [:]
    /// How many history rows are behind ``unsaved``.
    private(set) var unsavedRows = 0
    /// How many history rows are after `tag_history_filed_id`.
    private var unfiledRows = 0
    /// The save going on: the state as of history row `upTo`, in the table's order, written from `next` on.
    private var saving: (entries: [(tag: String, profile: ProfileID, Value)], next: Int, upTo: Int64)?

    init(fileAfter: Int = 32_768, saveAfter: Int = 262_144, chunk: Int = 8_192) {
        (self.fileAfter, self.saveAfter, self.chunk) = (fileAfter, saveAfter, chunk)
    }

    /// Appends the changes to the history, in the caller's transaction, and takes the history in as it is due.
    /// `clock` is the engine's moment, stored with them.
    mutating func record(_ changes: [TagChange], clock: EpochMillis, _ db: Database) throws {
        guard !changes.isEmpty else { return }
        try Self.appendHistory(changes, db)
        for change in changes { unsaved[change.tag, default: [:]][change.profile] = (change.new, change.at) }
        unsavedRows += changes.count
        unfiledRows += changes.count
        if unfiledRows >= fileAfter { try fileHistory(db) }
        if saving == nil, unsavedRows >= saveAfter {
            let entries = unsaved.sorted { $0.key < $1.key }.flatMap { tag, profiles in
                profiles.sorted { $0.key.rawValue < $1.key.rawValue }.map { (tag, $0.key, $0.value) }
            }
            saving = (entries, 0, try Self.lastHistoryRow(db))
            unsaved = [:]
            unsavedRows = 0
        }
        if saving != nil { try saveChunk(db) }
        try Counters.set("tag_clock", clock, db)
    }

    /// Files the history rows after `tag_history_filed_id` under their profiles and their tags.
    private mutating func fileHistory(_ db: Database) throws {
        let filed = try Self.filedUpTo(db)
        for file in [HistoryFile.profile, .tag] {
            try db.execute(sql: """
                INSERT INTO \(file.table)(\(file.rawValue), id)
                SELECT \(file.rawValue), id FROM tag_history WHERE id > ? ORDER BY \(file.rawValue), id
                """, arguments: [filed])
        }
        try Counters.set("tag_history_filed_id", try Self.lastHistoryRow(db), db)
        unfiledRows = 0
    }

    /// Writes the save's next chunk to `tag_state`; after the last, `tag_state` holds the history up to the
    /// save's row.
    private mutating func saveChunk(_ db: Database) throws {
        guard var save = saving else { return }
        let upsert = try BoundStatement(db.cachedStatement(sql: """
            INSERT INTO tag_state(tag_id, profile_id, value, since) VALUES (?, ?, ?, ?)
            ON CONFLICT(tag_id, profile_id) DO UPDATE SET value = excluded.value, since = excluded.since
            """))
        let delete = try BoundStatement(db.cachedStatement(sql: "DELETE FROM tag_state WHERE tag_id = ? AND profile_id = ?"))
        let end = min(save.next + chunk, save.entries.count)
        for (tag, profile, (value, since)) in save.entries[save.next..<end] {
            if let value {
                try upsert.execute(db, .text(tag), .int(profile.rawValue), .text(value.jsonText), .int(since))
            } else {
                try delete.execute(db, .text(tag), .int(profile.rawValue))
            }
        }
        save.next = end
        if end < save.entries.count {
            saving = save
        } else {
            try Counters.set("tag_state_history_id", save.upTo, db)
            saving = nil
        }
    }

    /// The stored state: `tag_state` with the history after `tag_state_history_id` folded in. (A save cut
    /// short by a restart left some of its tags in `tag_state`; the history after the counter has them too.)
    mutating func loadStored(_ db: Database) throws -> [ProfileID: [String: (RuleValue, EpochMillis)]] {
        var stored: [ProfileID: [String: (RuleValue, EpochMillis)]] = [:]
        let state = try Row.fetchCursor(db, sql: "SELECT profile_id, tag_id, value, since FROM tag_state")
        while let row = try state.next() {
            stored[ProfileID(row[0]), default: [:]][row[1]] = (RuleValue(try JSONParser.parse(row[2] as String)), row[3])
        }
        (unsaved, unsavedRows, saving) = ([:], 0, nil)
        let savedUpTo = try Counters.value("tag_state_history_id", db) ?? 0
        let later = try Row.fetchCursor(db, sql: "SELECT profile_id, tag_id, new, at FROM tag_history WHERE id > ? ORDER BY id",
                                        arguments: [savedUpTo])
        while let row = try later.next() {
            unsavedRows += 1
            let profile = ProfileID(row[0]), tag: String = row[1], at: EpochMillis = row[3]
            let value = try (row[2] as String?).map { RuleValue(try JSONParser.parse($0)) }
            stored[profile, default: [:]][tag] = value.map { ($0, at) }
            unsaved[tag, default: [:]][profile] = (value, at)
        }
        unfiledRows = try Int.fetchOne(db, sql: "SELECT count(*) FROM tag_history WHERE id > ?",
                                       arguments: [try Self.filedUpTo(db)]) ?? 0
        return stored
    }

    /// The last history row filed by profile and by tag.
    static func filedUpTo(_ db: Database) throws -> Int64 {
        try Counters.value("tag_history_filed_id", db) ?? 0
    }

    /// The history's files: its rows by profile, and by tag.
    enum HistoryFile: String {
        case profile = "profile_id"
        case tag = "tag_id"

        var table: String { self == .profile ? "tag_history_by_profile" : "tag_history_by_tag" }
    }

    /// SQL for the id and `columns` (of `tag_history h`) of the history rows whose profile or tag (`file`) is
    /// `value`, meeting `condition`, with ids below `below`, in id order (`order`: `ASC` or `DESC`), from the
    /// file and from the rows after it (`filed`: ``filedUpTo(_:)``). Both parts are read in id order and
    /// merged: a page of the newest costs its own rows, however long the history.
    static func filedHistory(
        by file: HistoryFile, is value: String, columns: String, where condition: String = "1", below: String,
        filed: String, order: String
    ) -> String {
        """
        SELECT h.id, \(columns) FROM tag_history h
        WHERE h.id > \(filed) AND h.id < \(below) AND h.\(file.rawValue) = \(value) AND \(condition)
        UNION ALL
        SELECT f.id, \(columns) FROM \(file.table) f JOIN tag_history h ON h.id = f.id
        WHERE f.\(file.rawValue) = \(value) AND f.id < \(below) AND \(condition)
        ORDER BY 1 \(order)
        """
    }

    private static func lastHistoryRow(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) FROM tag_history") ?? 0
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

extension TagStateLog: CustomStringConvertible {
    var description: String { "history filed every \(fileAfter), saved every \(saveAfter), \(chunk) a commit" }
}
