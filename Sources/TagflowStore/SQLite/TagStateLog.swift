import Foundation
import GRDB
import TagflowCore

/// Where tag state is kept on disk. Every change is appended to `tag_history` in the transaction that
/// causes it; the rest is that history taken in, in bulk:
/// - where each profile's and each tag's changes are, in `tag_history_by_profile` and `tag_history_by_tag`,
///   every ``fileAfter`` changes (up to the counter `tag_history_filed_id`; later changes are found by
///   reading the rows after it: ``filedHistory(by:is:columns:where:below:order:)``);
/// - the current state — each profile's tags with their values and since when, one row a profile in
///   `profile_tags` — every ``saveAfter`` changes: the profiles changed since the last save, a ``chunk`` of
///   them per commit in the table's order, each written as the engine holds it then (up to the counter
///   `tag_state_history_id`; `profile_tags` with the history rows after it is the stored state).
///
/// (Written at every change, they cost ingestion half of its speed: a commit's changes fall on random
/// profiles, so nearly every page of the tables was rewritten at every commit, and the index by tag had a
/// page rewritten for every tag. In bulk, a page takes many changes at once; and a profile's row takes all
/// its changes since the last save at once.) While Tagflow runs, the current state is read from the engine.
struct TagStateLog: Sendable {
    typealias Stored = [ProfileID: [String: (value: RuleValue, since: EpochMillis)]]

    /// How many history rows may wait to be filed by profile and by tag.
    let fileAfter: Int
    /// How many history rows may wait for `profile_tags` before a save begins.
    let saveAfter: Int
    /// How many profiles a commit writes to `profile_tags` while a save goes on.
    let chunk: Int

    /// The profiles of the history rows not yet in a save (one entry a row: a profile can repeat).
    private(set) var unsaved: [ProfileID] = []
    /// How many history rows are after `tag_history_filed_id`.
    private var unfiledRows = 0
    /// The save going on: the profiles changed up to history row `upTo`, in the table's order, written
    /// from `next` on.
    private var saving: (profiles: [ProfileID], next: Int, upTo: Int64)?

    init(fileAfter: Int = 32_768, saveAfter: Int = 262_144, chunk: Int = 4_096) {
        (self.fileAfter, self.saveAfter, self.chunk) = (fileAfter, saveAfter, chunk)
    }

    /// Appends the changes to the history, in the caller's transaction, and takes the history in as it is due.
    /// `clock` is the engine's moment, stored with them; `current` gives a profile's tags as they are now,
    /// the changes included (the engine's).
    mutating func record(
        _ changes: [TagChange], clock: EpochMillis, current: (ProfileID) -> [TagState], _ db: Database
    ) throws {
        guard !changes.isEmpty else { return }
        try Self.appendHistory(changes, db)
        unsaved.reserveCapacity(unsaved.count + changes.count)
        for change in changes { unsaved.append(change.profile) }
        unfiledRows += changes.count
        if unfiledRows >= fileAfter { try fileHistory(db) }
        if saving == nil, unsaved.count >= saveAfter {
            unsaved.sort { $0.rawValue < $1.rawValue }
            var profiles: [ProfileID] = []
            for profile in unsaved where profile != profiles.last { profiles.append(profile) }
            saving = (profiles, 0, try Self.lastHistoryRow(db))
            unsaved = []
        }
        if saving != nil { try saveChunk(current: current, db) }
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

    /// Writes the save's next chunk of profiles to `profile_tags` as they are now; after the last,
    /// `profile_tags` holds the history up to the save's row (and perhaps later changes, which the history
    /// after it has too).
    private mutating func saveChunk(current: (ProfileID) -> [TagState], _ db: Database) throws {
        guard var save = saving else { return }
        let upsert = try BoundStatement(db.cachedStatement(sql: """
            INSERT INTO profile_tags(profile_id, tags) VALUES (?, ?)
            ON CONFLICT(profile_id) DO UPDATE SET tags = excluded.tags
            """))
        let delete = try BoundStatement(db.cachedStatement(sql: "DELETE FROM profile_tags WHERE profile_id = ?"))
        let end = min(save.next + chunk, save.profiles.count)
        for profile in save.profiles[save.next..<end] {
            let tags = current(profile)
            if tags.isEmpty {
                try delete.execute(db, .int(profile.rawValue))
            } else {
                try upsert.execute(db, .int(profile.rawValue), .text(Self.text(of: tags)))
            }
        }
        save.next = end
        if end < save.profiles.count {
            saving = save
        } else {
            try Counters.set("tag_state_history_id", save.upTo, db)
            saving = nil
        }
    }

    /// A profile's row in `profile_tags`: `{"tag": [value, since], …}`.
    static func text(of tags: [TagState]) -> String {
        JSONValue.object(JSONObject(tags.map { JSONField($0.tag, [$0.value.json, .int($0.since)]) })).jsonString
    }

    /// The stored state: `profile_tags` with the history after `tag_state_history_id` folded in. (A save cut
    /// short by a restart wrote rows that the history after the counter brings up to date.)
    mutating func loadStored(_ db: Database) throws -> Stored {
        var stored: Stored = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT profile_id, tags FROM profile_tags")
        while let row = try rows.next() {
            let profile = ProfileID(row[0])
            guard let tags = try JSONParser.parse(row[1] as String).objectValue else {
                throw DatabaseError(message: "profile_tags row of profile \(profile) is not a JSON object")
            }
            for field in tags.fields {
                guard case .array(let pair) = field.value, pair.count == 2, case .int(let since) = pair[1] else {
                    throw DatabaseError(message: "profile_tags row of profile \(profile): tag `\(field.key)` is not [value, since]")
                }
                stored[profile, default: [:]][field.key] = (RuleValue(pair[0]), since)
            }
        }
        (unsaved, saving) = ([], nil)
        let savedUpTo = try Counters.value("tag_state_history_id", db) ?? 0
        let later = try Row.fetchCursor(db, sql: "SELECT profile_id, tag_id, new, at FROM tag_history WHERE id > ? ORDER BY id",
                                        arguments: [savedUpTo])
        while let row = try later.next() {
            let profile = ProfileID(row[0]), tag: String = row[1], at: EpochMillis = row[3]
            let value = try (row[2] as String?).map { RuleValue(try JSONParser.parse($0)) }
            stored[profile, default: [:]][tag] = value.map { ($0, at) }
            unsaved.append(profile)
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
    var description: String { "history filed every \(fileAfter), saved every \(saveAfter), \(chunk) profiles a commit" }
}
