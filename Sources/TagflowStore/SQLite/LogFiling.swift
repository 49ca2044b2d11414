import GRDB
import TagflowCore

/// What the writer keeps of the log's tail until it is filed in bulk: where its events are by profile, its
/// message ids, its trait writes. Each is written with its event at the end of a table and filed in key order
/// every so many — a commit's writes no longer fall on random pages of large indexes.
struct LogFiling: Sendable {
    var events: EventFiling
    var messages: MessageKeys
    var traits: TraitLog

    static func load(_ db: Database) throws -> LogFiling {
        LogFiling(events: try EventFiling.load(db), messages: try MessageKeys.load(db), traits: try TraitLog.load(db))
    }

    /// At the end of a commit: files what is due.
    mutating func fileIfDue(_ db: Database) throws {
        try events.fileIfDue(db)
        try messages.maintain(db)
        try traits.foldIfDue(db)
    }
}

/// Rows of a table's tail not yet filed, by the profile they belong to: what a merge moves to the survivor.
struct RowsByProfile: Sendable {
    private(set) var rows: [ProfileID: [Int64]] = [:]
    private(set) var count = 0

    mutating func add(_ row: Int64, of profile: ProfileID) {
        rows[profile, default: []].append(row)
        count += 1
    }

    /// Gives `loser`'s rows to `survivor`, in memory and in the table: `update` sets a row's profile (its
    /// arguments: the survivor, the row).
    mutating func move(of loser: ProfileID, to survivor: ProfileID, update: String, _ db: Database) throws {
        guard let moved = rows.removeValue(forKey: loser) else { return }
        let statement = try db.cachedStatement(sql: update)
        for row in moved { try statement.execute(arguments: [survivor.rawValue, row]) }
        rows[survivor, default: []].append(contentsOf: moved)
    }

    mutating func removeAll() {
        rows = [:]
        count = 0
    }
}
