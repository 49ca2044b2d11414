import GRDB
import TagflowCore

/// Where each profile's events are: `events_by_profile` (profile, event time, sequence number), filled from
/// the log in bulk every ``fileAfter`` events, up to the counter `events_filed_seq`; the events after it are
/// read from the log itself, and the writer keeps them by profile in memory (``unfiled``) for merges.
///
/// (An index on the log by profile had a page rewritten for nearly every event of every commit — events
/// fall on random profiles — a fifth of ingestion's time. In bulk, a page takes many events at once.)
struct EventFiling: Sendable {
    /// How many events may wait to be filed.
    var fileAfter = 32_768
    /// The events after `events_filed_seq`, by profile (sequence numbers).
    private(set) var unfiled = RowsByProfile()

    /// The filing as the database has it: the log's events after the counter.
    static func load(_ db: Database) throws -> EventFiling {
        var filing = EventFiling()
        let rows = try Row.fetchCursor(db, sql: "SELECT profile_id, seq FROM events WHERE seq > ? ORDER BY seq",
                                       arguments: [try filedUpTo(db)])
        while let row = try rows.next() { filing.inserted(seq: row[1], of: ProfileID(row[0])) }
        return filing
    }

    /// The last event filed.
    static func filedUpTo(_ db: Database) throws -> Int64 {
        try Counters.value("events_filed_seq", db) ?? 0
    }

    /// Notes an event just written to the log.
    mutating func inserted(seq: Int64, of profile: ProfileID) {
        unfiled.add(seq, of: profile)
    }

    /// Gives `loser`'s events to `survivor`, in the log and in the filing.
    mutating func moveEvents(of loser: ProfileID, to survivor: ProfileID, _ db: Database) throws {
        let (l, s) = (loser.rawValue, survivor.rawValue)
        try db.execute(sql: """
            UPDATE events SET profile_id = ?1 WHERE seq IN (SELECT seq FROM events_by_profile WHERE profile_id = ?2)
            """, arguments: [s, l])
        try db.execute(sql: """
            INSERT INTO events_by_profile(profile_id, ts, seq) SELECT ?1, ts, seq FROM events_by_profile WHERE profile_id = ?2
            """, arguments: [s, l])
        try db.execute(sql: "DELETE FROM events_by_profile WHERE profile_id = ?", arguments: [l])
        try unfiled.move(of: loser, to: survivor, update: "UPDATE events SET profile_id = ? WHERE seq = ?", db)
    }

    /// Files the events after the counter when enough have come.
    mutating func fileIfDue(_ db: Database) throws {
        guard unfiled.count >= fileAfter else { return }
        try db.execute(sql: """
            INSERT INTO events_by_profile(profile_id, ts, seq)
            SELECT profile_id, ts, seq FROM events WHERE seq > ? ORDER BY profile_id, ts, seq
            """, arguments: [try Self.filedUpTo(db)])
        try Counters.setToLastEvent("events_filed_seq", db)
        unfiled.removeAll()
    }
}
