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

/// Rows of a table's tail not yet filed, with the profile each belongs to: what a merge moves to the survivor.
/// A list in the order they came (a dictionary of arrays by profile cost an array for each new profile, at
/// every add; a merge, far rarer, reads the list through).
struct RowsByProfile: Sendable {
    private(set) var entries: [(profile: ProfileID, row: Int64)] = []
    var count: Int { entries.count }

    mutating func add(_ row: Int64, of profile: ProfileID) {
        entries.append((profile, row))
    }

    /// Gives `loser`'s rows to `survivor`, in memory and in the table: `update` sets a row's profile (its
    /// arguments: the survivor, the row).
    mutating func move(of loser: ProfileID, to survivor: ProfileID, update: String, _ db: Database) throws {
        var statement: Statement?
        for i in entries.indices where entries[i].profile == loser {
            if statement == nil { statement = try db.cachedStatement(sql: update) }
            try statement?.execute(arguments: [survivor.rawValue, entries[i].row])
            entries[i].profile = survivor
        }
    }

    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
    }
}
