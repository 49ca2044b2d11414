import Foundation
import GRDB
import TagflowCore

/// Where tag state is kept on disk. Every change is appended to `tag_history` in the transaction that
/// causes it; the rest is that history taken in, in bulk:
/// - where each profile's and each tag's changes are, in `tag_history_by_profile` and `tag_history_by_tag`
///   (``HistoryFiles``), every ``fileAfter`` changes;
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
    var fileAfter: Int { files.fileAfter }
    /// How many history rows may wait for `profile_tags` before a save begins.
    let saveAfter: Int
    /// How many profiles a commit writes to `profile_tags` while a save goes on.
    let chunk: Int

    /// The profiles of the history rows not yet in a save (one entry a row: a profile can repeat).
    private(set) var unsaved: [ProfileID] = []
    /// Where each profile's and tag's changes are.
    private var files: HistoryFiles
    /// The save going on: the profiles changed up to history row `upTo`, in the table's order, written
    /// from `next` on.
    private var saving: (profiles: [ProfileID], next: Int, upTo: Int64)?

    init(fileAfter: Int = 32_768, saveAfter: Int = 262_144, chunk: Int = 4_096) {
        (files, self.saveAfter, self.chunk) = (HistoryFiles(fileAfter: fileAfter), saveAfter, chunk)
    }

    /// Appends the changes to the history, in the caller's transaction, and takes the history in as it is due.
    /// `clock` is the engine's moment, stored with them; `current` gives a profile's tags as they are now,
    /// the changes included (the engine's).
    mutating func record(
        _ changes: TagChanges, clock: EpochMillis, current: (ProfileID) -> [TagState], _ db: Database
    ) throws {
        guard !changes.isEmpty else { return }
        try appendHistory(changes, db)
        try files.fileIfDue(db)
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

    /// A profile's row in `profile_tags`: `{"tag": [value, since], …}`, written into one buffer (building
    /// the JSON values first took half of a save's time).
    static func text(of tags: [TagState]) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(40 * tags.count)
        for tag in tags {
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            JSONValue.string(tag.tag).write(to: &out)
            out.append(contentsOf: ":[".utf8)
            if case .bool(true) = tag.value { out.append(contentsOf: "true".utf8) } else { tag.value.json.write(to: &out) }
            out.append(UInt8(ascii: ","))
            out.append(contentsOf: String(tag.since).utf8)
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
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
        files = try HistoryFiles.load(fileAfter: fileAfter, db)
        return stored
    }

    private static func lastHistoryRow(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) FROM tag_history") ?? 0
    }

    /// Appends the changes to `tag_history`, noting each row for the files and the next save. Rows go
    /// ``rowsAStatement`` to a statement (SQLite's work for each statement run was a third of a row's).
    private mutating func appendHistory(_ changes: TagChanges, _ db: Database) throws {
        // When Tagflow wrote it down, beside when it happened: their difference is the tag clock's lateness.
        let recordedAt = EpochMillis((Date().timeIntervalSince1970 * 1000).rounded())
        var values: [BoundValue] = []
        values.reserveCapacity(Self.rowsAStatement * 8)
        var start = changes.startIndex
        while start < changes.endIndex {
            let rows = changes.endIndex - start >= Self.rowsAStatement ? Self.rowsAStatement : 1
            let statement = try BoundStatement(db.cachedStatement(sql: rows == 1 ? Self.insertOne : Self.insertMany))
            values.removeAll(keepingCapacity: true)
            for change in changes[start..<start + rows] {
                let reference: Int64? = switch change.cause {
                case .event(let seq): seq
                case .merge(let from, let into): change.profile == from ? into.rawValue : from.rawValue
                default: nil
                }
                // One by one: an array literal here was a temporary array (an allocation) for every change.
                values.append(.int(change.profile.rawValue))
                values.append(.text(change.tag))
                values.append(change.old?.storedJSON ?? .null)
                values.append(change.new?.storedJSON ?? .null)
                values.append(.int(change.at))
                values.append(.text(change.cause.kind))
                values.append(.int(reference))
                values.append(.int(recordedAt))
            }
            try statement.execute(db, values)
            // The rows of one statement take consecutive rowids, the last one's last.
            var id = BoundStatement.lastInsertedRowID(db) - Int64(rows)
            for i in start..<start + rows {
                id += 1
                files.appended(id: id, profile: changes.profile(at: i), tag: changes.tag(at: i))
                unsaved.append(changes.profile(at: i))
            }
            start += rows
        }
    }

    static let rowsAStatement = 16
    private static let insertOne = insert(rows: 1)
    private static let insertMany = insert(rows: rowsAStatement)

    private static func insert(rows: Int) -> String {
        "INSERT INTO tag_history(profile_id, tag_id, old, new, at, cause, cause_ref, recorded_at) VALUES "
            + Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", ")
    }
}

extension TagStateLog: CustomStringConvertible {
    var description: String { "history filed every \(fileAfter), saved every \(saveAfter), \(chunk) profiles a commit" }
}
