import Foundation
import GRDB
import TagflowCore

/// Where each profile's and each tag's changes are in `tag_history`: the files `tag_history_by_profile` and
/// `tag_history_by_tag`, filled every ``fileAfter`` history rows, up to the counter `tag_history_filed_id`.
/// A filing writes one row for each profile (each tag) among the rows it files: the first of its history
/// ids (`first_id`) and the gaps to each next one (`ids`, a blob of unsigned LEB128 varints). The history
/// rows after the counter are kept here (``unfiled``) and read from the history itself.
///
/// (A file row a history row cost two B-tree inserts a change, one at a random place: ~15 % of the writer
/// with 50 tags live. A row a profile a filing takes its changes at once, and a tag's row all of the tag's.)
struct HistoryFiles: Sendable {
    /// The history's files: its rows by profile, and by tag.
    enum File: String {
        case profile = "profile_id"
        case tag = "tag_id"

        var table: String { self == .profile ? "tag_history_by_profile" : "tag_history_by_tag" }
    }

    /// How many history rows may wait to be filed.
    let fileAfter: Int
    /// The history rows after the counter, in id order.
    private(set) var unfiled: [(profile: ProfileID, tag: String, id: Int64)] = []

    init(fileAfter: Int) {
        self.fileAfter = fileAfter
    }

    /// The files as the database has them: the history rows after the counter.
    static func load(fileAfter: Int, _ db: Database) throws -> HistoryFiles {
        var files = HistoryFiles(fileAfter: fileAfter)
        let rows = try Row.fetchCursor(db, sql: "SELECT profile_id, tag_id, id FROM tag_history WHERE id > ? ORDER BY id",
                                       arguments: [try filedUpTo(db)])
        while let row = try rows.next() { files.appended(id: row[2], profile: ProfileID(row[0]), tag: row[1]) }
        return files
    }

    /// The last history row filed.
    static func filedUpTo(_ db: Database) throws -> Int64 {
        try Counters.value("tag_history_filed_id", db) ?? 0
    }

    /// Notes a row just appended to the history.
    mutating func appended(id: Int64, profile: ProfileID, tag: String) {
        unfiled.append((profile, tag, id))
    }

    /// Files the rows after the counter when enough have come.
    mutating func fileIfDue(_ db: Database) throws {
        guard unfiled.count >= fileAfter, let last = unfiled.last?.id else { return }
        // By profile: sorted by profile alone (the sort is stable: a profile's rows stay in id order).
        var byProfile = unfiled.map { (profile: $0.profile.rawValue, id: $0.id) }
        byProfile.sort { $0.profile < $1.profile }
        let profileRows = try RowWriter(.profile, db)
        var start = byProfile.startIndex
        while start < byProfile.endIndex {
            var end = start + 1
            while end < byProfile.endIndex, byProfile[end].profile == byProfile[start].profile { end += 1 }
            try profileRows.write(.int(byProfile[start].profile), byProfile[start..<end].lazy.map(\.id))
            start = end
        }
        // By tag: grouped, not sorted (comparing tags as text was a third of the filing's time), each tag's
        // row written from its group.
        var idsByTag: [String: [Int64]] = [:]
        for row in unfiled { idsByTag[row.tag, default: []].append(row.id) }
        let tagRows = try RowWriter(.tag, db)
        for (tag, ids) in idsByTag.sorted(by: { $0.key < $1.key }) { try tagRows.write(.text(tag), ids) }
        try Counters.set("tag_history_filed_id", last, db)
        unfiled.removeAll(keepingCapacity: true)
    }

    /// Writes rows of one file: a key and its ids, in order, a row.
    private struct RowWriter {
        let insert: BoundStatement
        let db: Database

        init(_ file: File, _ db: Database) throws {
            insert = try BoundStatement(db.cachedStatement(sql: """
                INSERT INTO \(file.table)(\(file.rawValue), first_id, ids) VALUES (?, ?, ?)
                """))
            self.db = db
        }

        func write(_ key: BoundValue, _ ids: some Collection<Int64>) throws {
            guard let first = ids.first else { return }
            try insert.execute(db, key, .int(first), .blob(gaps(ids)))
        }
    }

    /// The gaps between consecutive ids (after the first), as varints.
    static func gaps(_ ids: some Collection<Int64>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count)
        var previous = ids.first ?? 0
        for id in ids.dropFirst() {
            var gap = UInt64(id - previous)
            while gap >= 0x80 {
                bytes.append(UInt8(gap & 0x7F) | 0x80)
                gap >>= 7
            }
            bytes.append(UInt8(gap))
            previous = id
        }
        return bytes
    }

    /// The ids of a file row: `first`, then each gap in `bytes` added in turn.
    static func ids(first: Int64, gaps bytes: [UInt8]) -> [Int64] {
        var ids = [first]
        var (gap, shift): (UInt64, UInt64) = (0, 0)
        for byte in bytes {
            gap |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                ids.append(ids[ids.count - 1] + Int64(gap))
                (gap, shift) = (0, 0)
            } else {
                shift += 7
            }
        }
        return ids
    }

    /// Reads the history rows (`h.id`, then `columns` of `tag_history h`) whose profile or tag (`file`) is
    /// `value`, with ids below `below`, newest first or oldest first, passing each to `body` until it returns
    /// false (a row is valid only during the call: `copy()` one to keep it): the filed rows through the file,
    /// the rest from the history after the counter. A page of the newest costs its own rows (and the file
    /// rows they are in), however long the history.
    static func forEachRow(
        of file: File, is value: some DatabaseValueConvertible, below: Int64, newestFirst: Bool, columns: String,
        _ db: Database, _ body: (Row) throws -> Bool
    ) throws {
        let filed = try filedUpTo(db)
        let order = newestFirst ? "DESC" : "ASC"
        func tail() throws -> Bool {
            let rows = try Row.fetchCursor(db, sql: """
                SELECT h.id, \(columns) FROM tag_history h
                WHERE h.id > ? AND h.id < ? AND h.\(file.rawValue) = ? ORDER BY h.id \(order)
                """, arguments: [filed, below, value])
            while let row = try rows.next() { guard try body(row) else { return false } }
            return true
        }
        func filedRows() throws -> Bool {
            let byID = try db.cachedStatement(sql: "SELECT h.id, \(columns) FROM tag_history h WHERE h.id = ?")
            let runs = try Row.fetchCursor(db, sql: """
                SELECT first_id, ids FROM \(file.table) WHERE \(file.rawValue) = ? AND first_id < ? ORDER BY first_id \(order)
                """, arguments: [value, below])
            while let run = try runs.next() {
                let ids = Self.ids(first: run[0], gaps: [UInt8](run[1] as Data))
                for id in newestFirst ? AnySequence(ids.reversed()) : AnySequence(ids) where id < below {
                    guard let row = try Row.fetchOne(byID, arguments: [id]) else { continue }
                    guard try body(row) else { return false }
                }
            }
            return true
        }
        if newestFirst {
            if try tail() { _ = try filedRows() }
        } else {
            if try filedRows() { _ = try tail() }
        }
    }

    /// Files anew, a row for each key for each `perRow` ids, a file whose rows held one id each (before
    /// migration v11): `from` is that table.
    static func refile(_ file: File, from table: String, perRow: Int = 32_768, _ db: Database) throws {
        let rows = try Row.fetchCursor(db, sql: "SELECT \(file.rawValue), id FROM \(table) ORDER BY \(file.rawValue), id")
        let writer = try RowWriter(file, db)
        var key: DatabaseValue?
        var ids: [Int64] = []
        while let row = try rows.next() {
            let next: DatabaseValue = row[0]
            if let key, key != next || ids.count == perRow {
                try writer.write(.value(key), ids)
                ids.removeAll(keepingCapacity: true)
            }
            key = next
            ids.append(row[1])
        }
        if let key { try writer.write(.value(key), ids) }
    }
}
