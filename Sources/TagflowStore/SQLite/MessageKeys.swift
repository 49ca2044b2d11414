import Foundation
import GRDB
import TagflowCore

/// Which message ids the log holds, per source, for de-duplication — exact, at a cost that does not grow with
/// the log.
///
/// Clients send random message ids (UUIDs), so a unique index on them had a page rewritten at a random place
/// for nearly every event of every commit: over half of ingestion's time. Instead the ids of the events after
/// the counter `message_keys_filed_seq` are kept in memory (``recent``: the log after the counter gives them
/// back at a restart), and every ``fileAfter`` of them are written at once as a *run*: their 64-bit keys
/// (a hash of source and id) with the events' sequence numbers, in key order, in `message_keys`, and a
/// ``KeyFilter`` of them in `message_key_runs`. A message is looked for in memory, then in each run whose
/// filter says "perhaps" — one lookup that also compares the event's own source and id, so two ids with the
/// same key are never confused. When ``fanout`` runs of a level gather they are merged into one run of the
/// next level, a bounded step in each commit (``stepRows`` keys), and the old runs' rows deleted in steps
/// after: every key is written once per level, in order, and a lookup tests a few filters.
struct MessageKeys: Sendable {
    var fileAfter = 32_768
    var fanout = 8
    /// Keys merged or deleted per commit at most.
    var stepRows = 32_768
    /// Keys are hashes masked with this; tests narrow it to make keys collide.
    var keyMask = UInt64.max

    struct Run: Sendable {
        let id: Int64
        let level: Int
        let count: Int
        let filter: KeyFilter
    }

    /// The runs lookups search, in the order they were made.
    private(set) var runs: [Run] = []
    /// The messages after the counter: source and id to sequence number.
    private(set) var recent: [MessageRef: Int64] = [:]
    private var merge: Merge?
    /// The run a merge is writing.
    var building: Int64? { merge?.output }
    /// Runs no lookup reads any more whose rows are still to be deleted (merged, or left by a restart mid-merge).
    private(set) var retired: [Int64] = []
    private var nextRun: Int64 = 1

    struct MessageRef: Hashable, Sendable {
        let source: Int64
        let id: String
    }

    /// The keys as the database has them: the runs, and the log's messages after the counter.
    static func load(_ db: Database) throws -> MessageKeys {
        var keys = MessageKeys()
        for row in try Row.fetchAll(db, sql: "SELECT run, level, keys, filter FROM message_key_runs ORDER BY run") {
            guard let filter = KeyFilter(bytes: row[3]) else {
                throw DatabaseError(message: "message_key_runs: run \(row[0] as Int64) has no valid filter")
            }
            keys.runs.append(Run(id: row[0], level: row[1], count: row[2], filter: filter))
        }
        let listed = Set(keys.runs.map(\.id))
        var run: Int64 = .min
        while let next = try Int64.fetchOne(
            db, sql: "SELECT run FROM message_keys WHERE run > ? ORDER BY run LIMIT 1", arguments: [run]) {
            if !listed.contains(next) { keys.retired.append(next) }
            run = next
        }
        keys.nextRun = max(run, keys.runs.last?.id ?? 0) + 1
        let rows = try Row.fetchCursor(db, sql: """
            SELECT source_id, message_id, seq FROM events WHERE seq > ? AND message_id IS NOT NULL
            """, arguments: [try Counters.value("message_keys_filed_seq", db) ?? 0])
        while let row = try rows.next() { keys.recent[MessageRef(source: row[0], id: row[1])] = row[2] }
        return keys
    }

    /// Files the whole log as runs, a run for each million messages (the upgrade from a unique index).
    static func fileLog(_ db: Database) throws {
        var keys = MessageKeys()
        var chunk: [(key: Int64, seq: Int64)] = []
        func flush() throws {
            guard !chunk.isEmpty else { return }
            chunk.sort { $0 < $1 }
            var filter = KeyFilter(capacity: chunk.count)
            try write(chunk, to: keys.nextRun, filter: &filter, db)
            var (level, size) = (0, keys.fileAfter * keys.fanout)
            while chunk.count >= size { (level, size) = (level + 1, size * keys.fanout) }
            try keys.add(Run(id: keys.nextRun, level: level, count: chunk.count, filter: filter), db)
            chunk = []
        }
        let rows = try Row.fetchCursor(db, sql: """
            SELECT source_id, message_id, seq FROM events WHERE message_id IS NOT NULL ORDER BY seq
            """)
        while let row = try rows.next() {
            chunk.append((keys.key(source: row[0], id: row[1]), row[2]))
            if chunk.count == 1 << 20 { try flush() }
        }
        try flush()
        try Counters.set("message_keys_filed_seq", try Int64.fetchOne(db, sql: "SELECT coalesce(max(seq), 0) FROM events") ?? 0, db)
    }

    /// The key of a message id within its source: FNV-1a over both, then a finaliser — the same in every build.
    func key(source: Int64, id: String) -> Int64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        var s = UInt64(bitPattern: source)
        for _ in 0..<8 {
            h = (h ^ (s & 0xFF)) &* 0x100_0000_01B3
            s >>= 8
        }
        var id = id
        id.withUTF8 { for byte in $0 { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 } }
        return Int64(bitPattern: SplitMix64.mix(h) & keyMask)
    }

    /// Whether the log holds a message `id` from `source`.
    func holds(_ id: String, source: Int64, _ db: Database) throws -> Bool {
        if recent[MessageRef(source: source, id: id)] != nil { return true }
        guard !runs.isEmpty else { return false }
        let key = key(source: source, id: id)
        for run in runs.reversed() where run.filter.mayContain(key) {
            let found = try Bool.fetchOne(db.cachedStatement(sql: """
                SELECT 1 FROM message_keys k JOIN events e ON e.seq = k.seq
                WHERE k.run = ? AND k.key = ? AND e.source_id = ? AND e.message_id = ?
                """), arguments: [run.id, key, source, id])
            if found == true { return true }
        }
        return false
    }

    /// Notes a message just written to the log.
    mutating func inserted(_ id: String, source: Int64, seq: Int64) {
        recent[MessageRef(source: source, id: id)] = seq
    }

    /// At the end of a commit: files the recent keys when enough have come, then a step of merging and deleting.
    mutating func maintain(_ db: Database) throws {
        if recent.count >= fileAfter { try fileRecent(db) }
        var budget = stepRows
        if merge == nil { merge = try startMerge(db) }
        if var step = merge {
            merge = try step.advance(budget: &budget, db) ? nil : step
            if merge == nil { try finish(step, db) }
        }
        while budget > 0, let run = retired.first {
            let deleted = try Self.delete(upTo: budget, of: run, db)
            budget -= deleted
            if deleted == 0 { retired.removeFirst() }
        }
    }

    /// Writes the recent keys as a run of level 0.
    private mutating func fileRecent(_ db: Database) throws {
        let entries = recent.map { (key: key(source: $0.key.source, id: $0.key.id), seq: $0.value) }.sorted { $0 < $1 }
        var filter = KeyFilter(capacity: entries.count)
        let id = nextRun
        try Self.write(entries, to: id, filter: &filter, db)
        try add(Run(id: id, level: 0, count: entries.count, filter: filter), db)
        try Counters.set("message_keys_filed_seq", try Int64.fetchOne(db, sql: "SELECT coalesce(max(seq), 0) FROM events") ?? 0, db)
        recent = [:]
    }

    private mutating func add(_ run: Run, _ db: Database) throws {
        try db.execute(sql: "INSERT INTO message_key_runs(run, level, keys, filter) VALUES (?, ?, ?, ?)",
                       arguments: [run.id, run.level, run.count, run.filter.bytes])
        runs.append(run)
        nextRun = max(nextRun, run.id + 1)
    }

    private static func write(
        _ entries: some Sequence<(key: Int64, seq: Int64)>, to run: Int64, filter: inout KeyFilter, _ db: Database
    ) throws {
        let insert = try BoundStatement(db.cachedStatement(sql: "INSERT INTO message_keys(run, key, seq) VALUES (?, ?, ?)"))
        for entry in entries {
            try insert.execute(db, .int(run), .int(entry.key), .int(entry.seq))
            filter.insert(entry.key)
        }
    }

    /// Deletes up to `limit` of a retired run's rows, in key order; the number deleted.
    private static func delete(upTo limit: Int, of run: Int64, _ db: Database) throws -> Int {
        try db.execute(sql: """
            DELETE FROM message_keys WHERE run = ?1 AND key <= coalesce(
                (SELECT key FROM message_keys WHERE run = ?1 ORDER BY key LIMIT 1 OFFSET ?2), 9223372036854775807)
            """, arguments: [run, limit - 1])
        return db.changesCount
    }

    // MARK: Merging

    /// The oldest `fanout` runs of the lowest level that has that many, to merge into one of the next level.
    private mutating func startMerge(_ db: Database) throws -> Merge? {
        let levels = Dictionary(grouping: runs, by: \.level)
        guard let level = levels.keys.sorted().first(where: { levels[$0]!.count >= fanout }) else { return nil }
        let inputs = levels[level]!.prefix(fanout)
        let count = inputs.reduce(0) { $0 + $1.count }
        defer { nextRun += 1 }
        return Merge(inputs: inputs.map(\.id), output: nextRun, level: level + 1, filter: KeyFilter(capacity: count),
                     slices: max(1, (count + stepRows - 1) / stepRows))
    }

    /// Lists the merged run in place of its inputs, whose rows are deleted in the steps that follow.
    private mutating func finish(_ merge: Merge, _ db: Database) throws {
        for run in merge.inputs { try db.execute(sql: "DELETE FROM message_key_runs WHERE run = ?", arguments: [run]) }
        runs.removeAll { merge.inputs.contains($0.id) }
        try add(Run(id: merge.output, level: merge.level, count: merge.written, filter: merge.filter), db)
        retired += merge.inputs
    }

    /// A merge of runs, a slice of the key space at a time (keys are hashes: each slice holds about as many).
    private struct Merge {
        let inputs: [Int64]
        let output: Int64
        let level: Int
        var filter: KeyFilter
        let slices: Int
        var done = 0
        var written = 0

        /// Merges slices until `budget` keys are spent; true when every slice is done.
        mutating func advance(budget: inout Int, _ db: Database) throws -> Bool {
            while budget > 0, done < slices {
                let low = Self.start(of: done, among: slices)
                let high = done + 1 < slices ? Self.start(of: done + 1, among: slices) - 1 : .max
                let arguments: StatementArguments = [output, low, high]
                try db.execute(sql: """
                    INSERT INTO message_keys(run, key, seq) SELECT ?1, key, seq FROM message_keys
                    WHERE run IN (\(inputs.map(String.init).joined(separator: ", "))) AND key BETWEEN ?2 AND ?3 ORDER BY key, seq
                    """, arguments: arguments)
                let keys = try Int64.fetchCursor(db, sql: "SELECT key FROM message_keys WHERE run = ?1 AND key BETWEEN ?2 AND ?3",
                                                 arguments: arguments)
                while let key = try keys.next() {
                    filter.insert(key)
                    written += 1
                    budget -= 1
                }
                done += 1
            }
            return done == slices
        }

        /// The first key of a slice: the key space from `Int64.min` cut in equal parts.
        static func start(of slice: Int, among slices: Int) -> Int64 {
            Int64(bitPattern: 0x8000_0000_0000_0000 &+ UInt64(slice) &* (UInt64.max / UInt64(slices)))
        }
    }
}
