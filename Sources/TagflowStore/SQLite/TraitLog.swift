import GRDB
import TagflowCore

/// Profile traits, as identify calls set them: for each profile and key, the value with the latest event
/// time (on a tie, the later write). Each write is appended to `trait_log` with its event; every
/// ``foldAfter`` writes the log is folded into `traits` (a row per profile and key) in the table's order and
/// emptied. A profile's traits are its `traits` rows with its log rows after them (``currentSQL(of:key:)``);
/// the writer keeps which log rows are whose, for merges.
///
/// (Upserted at their place in `traits`, a commit's trait writes fell on random pages, each rewritten whole:
/// with one event in ten an identify call, a quarter of ingestion's time.)
struct TraitLog: Sendable {
    var foldAfter = 32_768
    /// The log's rows by profile.
    private(set) var unfolded = RowsByProfile()

    /// The log as the database has it.
    static func load(_ db: Database) throws -> TraitLog {
        var log = TraitLog()
        let rows = try Row.fetchCursor(db, sql: "SELECT id, profile_id FROM trait_log ORDER BY id")
        while let row = try rows.next() { log.unfolded.add(row[0], of: ProfileID(row[1])) }
        return log
    }

    /// Sets `traits` of `profile` as of event time `time`.
    mutating func set(_ traits: JSONObject, of profile: ProfileID, at time: EpochMillis, _ db: Database) throws {
        let insert = try BoundStatement(db.cachedStatement(sql: "INSERT INTO trait_log(profile_id, key, value, at) VALUES (?, ?, ?, ?)"))
        for field in traits.fields {
            try insert.execute(db, .int(profile.rawValue), .text(field.key), .text(field.value.jsonString), .int(time))
            unfolded.add(BoundStatement.lastInsertedRowID(db), of: profile)
        }
    }

    /// Gives `loser`'s traits to `survivor`: folded ones where the survivor's are older (on a tie the survivor's
    /// stay), and its rows of the log, which compete with the survivor's like any others.
    mutating func moveTraits(of loser: ProfileID, to survivor: ProfileID, _ db: Database) throws {
        let (l, s) = (loser.rawValue, survivor.rawValue)
        try db.execute(sql: """
            INSERT INTO traits(profile_id, key, value, at) SELECT ?, key, value, at FROM traits WHERE profile_id = ? AND true
            ON CONFLICT(profile_id, key) DO UPDATE SET value = excluded.value, at = excluded.at WHERE excluded.at > traits.at
            """, arguments: [s, l])
        try db.execute(sql: "DELETE FROM traits WHERE profile_id = ?", arguments: [l])
        try unfolded.move(of: loser, to: survivor, update: "UPDATE trait_log SET profile_id = ? WHERE id = ?", db)
    }

    /// Folds the log into `traits` when enough has come.
    mutating func foldIfDue(_ db: Database) throws {
        guard unfolded.count >= foldAfter else { return }
        try db.execute(sql: """
            INSERT INTO traits(profile_id, key, value, at)
            SELECT profile_id, key, value, at FROM trait_log WHERE true ORDER BY profile_id, key, at, id
            ON CONFLICT(profile_id, key) DO UPDATE SET value = excluded.value, at = excluded.at WHERE excluded.at >= traits.at;
            DELETE FROM trait_log;
            """)
        unfolded.removeAll()
    }

    /// SQL for the traits `(profile_id, key, value)` of the profiles `profiles` lists (an SQL list or subquery,
    /// in parentheses), of every key or of `key` alone: the folded rows and the log's, latest event time first.
    static func currentSQL(of profiles: String, key: StaticString? = nil) -> String {
        let keyed = key.map { " AND key = '\($0)'" } ?? ""
        return """
            SELECT profile_id, key, value FROM (
                SELECT profile_id, key, value,
                    row_number() OVER (PARTITION BY profile_id, key ORDER BY at DESC, id DESC) AS latest FROM (
                    SELECT profile_id, key, value, at, 0 AS id FROM traits WHERE profile_id IN \(profiles)\(keyed)
                    UNION ALL
                    SELECT profile_id, key, value, at, id FROM trait_log WHERE profile_id IN \(profiles)\(keyed)))
            WHERE latest = 1
            """
    }
}
