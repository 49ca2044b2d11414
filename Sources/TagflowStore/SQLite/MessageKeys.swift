import Foundation
import GRDB
import TagflowCore

/// Which message ids the log holds, per source, for de-duplication — exact, at a cost that does not grow with
/// the log.
///
/// Clients send random message ids (UUIDs), so a unique index on them had a page rewritten at a random place
/// for nearly every event of every commit: over half of ingestion's time. Instead the ids of the events after
/// the counter `message_keys_filed_seq` are kept in memory (``recent``: the log after the counter gives them
/// back at a restart) by key alone, and every ``fileAfter`` of them are written at once as a *run*: their 64-bit keys
/// (a hash of source and id) with the events' sequence numbers, in key order, packed ``pageEntries`` to a row
/// of `message_keys`, and a ``KeyFilter`` of them in `message_key_runs`. A message is looked for in memory,
/// then in each run whose filter says "perhaps" — the event found is compared on its own source and id, so
/// two ids with the same key are never confused. When ``fanout`` runs of a level gather they are merged into
/// one run of the next level, a slice of the key space in each commit (about ``stepRows`` keys), and the old
/// runs' rows deleted in steps after: every key is written once per level, in order, and a lookup tests a few
/// filters. (See docs/decisions/0007-message-keys-in-runs.md.)
struct MessageKeys: Sendable {
    var fileAfter = 32_768
    var fanout = 8
    /// Keys merged or deleted per commit at most.
    var stepRows = 32_768
    /// How many entries a row of `message_keys` packs: 4,000 bytes, within a 16 KB page (no overflow page).
    var pageEntries = 250
    /// Keys are hashes masked with this; tests narrow it to make keys collide.
    var keyMask = UInt64.max {
        didSet {
            let all = Array(recent.values) + recentSharingKeys
            (recent, recentSharingKeys) = ([:], [])
            for entry in all { note(entry) }
        }
    }

    struct Run: Sendable {
        let id: Int64
        let level: Int
        let count: Int
        let filter: KeyFilter
    }

    /// The runs lookups search, in the order they were made.
    private(set) var runs: [Run] = []
    /// The messages after the counter, by key: each one's hash and event. A message found here is compared
    /// with its event's source and id, as one found in a run is — so no id is kept in memory (keeping them,
    /// each a string made by a request and freed by the writer, was most of the cost of de-duplication).
    private var recent: [Int64: Recent] = [:]
    /// The recent messages whose key another one in ``recent`` has (with full 64-bit keys, practically none).
    private var recentSharingKeys: [Recent] = []
    /// How many messages after the counter the keys hold.
    var recentCount: Int { recent.count + recentSharingKeys.count }

    /// A recent message: its key before masking (``keyMask``) and its event.
    private struct Recent: Sendable {
        let hash: UInt64
        let seq: Int64
    }
    private var merge: Merge?
    /// The run a merge is writing.
    var building: Int64? { merge?.output }
    /// Runs no lookup reads any more whose rows are still to be deleted (merged, or left by a restart mid-merge).
    private(set) var retired: [Int64] = []
    private var nextRun: Int64 = 1

    /// A message id within its source, and its key.
    struct Message: Sendable {
        /// The key before masking.
        let hash: UInt64
        let key: Int64
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
        while let row = try rows.next() { keys.inserted(keys.message(row[1], source: row[0]), seq: row[2]) }
        return keys
    }

    /// Files the whole log as runs, a run for each million messages (the upgrade from a unique index).
    static func fileLog(_ db: Database) throws {
        var keys = MessageKeys()
        var chunk: [Entry] = []
        func flush() throws {
            guard !chunk.isEmpty else { return }
            var (level, size) = (0, keys.fileAfter * keys.fanout)
            while chunk.count >= size { (level, size) = (level + 1, size * keys.fanout) }
            try keys.add(run: keys.nextRun, level: level, chunk.sorted(), db)
            chunk = []
        }
        let rows = try Row.fetchCursor(db, sql: """
            SELECT source_id, message_id, seq FROM events WHERE message_id IS NOT NULL ORDER BY seq
            """)
        while let row = try rows.next() {
            chunk.append(Entry(key: keys.message(row[1], source: row[0]).key, seq: row[2]))
            if chunk.count == 1 << 20 { try flush() }
        }
        try flush()
        try Counters.setToLastEvent("message_keys_filed_seq", db)
    }

    /// A message id within its source, with its key: FNV-1a over both, then a finaliser — the same in every build.
    func message(_ id: String, source: Int64) -> Message {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        var s = UInt64(bitPattern: source)
        for _ in 0..<8 {
            h = (h ^ (s & 0xFF)) &* 0x100_0000_01B3
            s >>= 8
        }
        var id = id
        id.withUTF8 { for byte in $0 { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 } }
        let hash = SplitMix64.mix(h)
        return Message(hash: hash, key: key(of: hash), source: source, id: id)
    }

    /// The key of a message with this hash: the hash masked with ``keyMask``.
    private func key(of hash: UInt64) -> Int64 {
        Int64(bitPattern: hash & keyMask)
    }

    /// Whether the log holds `message`.
    func holds(_ message: Message, _ db: Database) throws -> Bool {
        if let entry = recent[message.key] {
            if try Self.event(entry.seq, is: message, db) { return true }
            for other in recentSharingKeys where key(of: other.hash) == message.key {
                if try Self.event(other.seq, is: message, db) { return true }
            }
        }
        for run in runs.reversed() where run.filter.mayContain(message.key) {
            for seq in try Self.seqs(of: message.key, in: run.id, db) where try Self.event(seq, is: message, db) {
                return true
            }
        }
        return false
    }

    /// Whether event `seq` is `message`: its source and id, not only its key.
    private static func event(_ seq: Int64, is message: Message, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: """
            SELECT 1 FROM events WHERE seq = ? AND source_id = ? AND message_id = ?
            """), arguments: [seq, message.source, message.id]) == true
    }

    /// The sequence numbers a run has under `key`: in the pages from the last one that starts before the key
    /// (a page starts at its first entry) to the last that starts at it.
    private static func seqs(of key: Int64, in run: Int64, _ db: Database) throws -> [Int64] {
        let pages = try Data.fetchAll(db.cachedStatement(sql: """
            SELECT entries FROM message_keys WHERE run = ?1 AND first_key <= ?2 AND first_key >= coalesce(
                (SELECT max(first_key) FROM message_keys WHERE run = ?1 AND first_key < ?2), -9223372036854775808)
            """), arguments: [run, key])
        return pages.flatMap { Entry.unpack($0).filter { $0.key == key }.map(\.seq) }
    }

    /// Notes a message just written to the log.
    mutating func inserted(_ message: Message, seq: Int64) {
        note(Recent(hash: message.hash, seq: seq))
    }

    private mutating func note(_ entry: Recent) {
        let key = key(of: entry.hash)
        if let first = recent.updateValue(entry, forKey: key) {  // one lookup in the usual case
            recent[key] = first
            recentSharingKeys.append(entry)
        }
    }

    /// At the end of a commit: files the recent keys when enough have come, then a step of merging and deleting.
    mutating func maintain(_ db: Database) throws {
        if recentCount >= fileAfter { try fileRecent(db) }
        var budget = stepRows
        if merge == nil { merge = startMerge() }
        if var step = merge {
            merge = try step.advance(budget: &budget, db) ? nil : step
            if merge == nil { try finish(step, db) }
        }
        while budget > 0, let run = retired.first {
            let pages = try Self.delete(pages: max(1, budget / pageEntries), of: run, db)
            budget -= pages * pageEntries
            if pages == 0 { retired.removeFirst() }
        }
    }

    /// Writes the recent keys as a run of level 0.
    private mutating func fileRecent(_ db: Database) throws {
        let entries = recent.map { Entry(key: $0.key, seq: $0.value.seq) }
            + recentSharingKeys.map { Entry(key: key(of: $0.hash), seq: $0.seq) }
        try add(run: nextRun, level: 0, entries.sorted(), db)
        try Counters.setToLastEvent("message_keys_filed_seq", db)
        recent.removeAll(keepingCapacity: true)  // it fills up again: no growing (and rehashing) on the way
        recentSharingKeys.removeAll()
    }

    /// Writes a run of `entries` (in order) and lists it.
    private mutating func add(run id: Int64, level: Int, _ entries: [Entry], _ db: Database) throws {
        var filter = KeyFilter(capacity: entries.count)
        try Self.write(entries, to: id, pageEntries: pageEntries, filter: &filter, db)
        try list(Run(id: id, level: level, count: entries.count, filter: filter), db)
    }

    private mutating func list(_ run: Run, _ db: Database) throws {
        try db.execute(sql: "INSERT INTO message_key_runs(run, level, keys, filter) VALUES (?, ?, ?, ?)",
                       arguments: [run.id, run.level, run.count, run.filter.bytes])
        runs.append(run)
        nextRun = max(nextRun, run.id + 1)
    }

    /// Appends `entries` (in order) to a run, a page at a time, and adds their keys to `filter`.
    private static func write(
        _ entries: [Entry], to run: Int64, pageEntries: Int, filter: inout KeyFilter, _ db: Database
    ) throws {
        let insert = try db.cachedStatement(sql: "INSERT INTO message_keys(run, first_key, first_seq, entries) VALUES (?, ?, ?, ?)")
        for start in stride(from: 0, to: entries.count, by: pageEntries) {
            let page = entries[start..<min(start + pageEntries, entries.count)]
            try insert.execute(arguments: [run, page.first!.key, page.first!.seq, Entry.pack(page)])
        }
        for entry in entries { filter.insert(entry.key) }
    }

    /// Deletes up to `limit` pages of a retired run; the number deleted.
    private static func delete(pages limit: Int, of run: Int64, _ db: Database) throws -> Int {
        try db.execute(sql: """
            DELETE FROM message_keys WHERE run = ?1 AND (first_key, first_seq) IN (
                SELECT first_key, first_seq FROM message_keys WHERE run = ?1 ORDER BY first_key, first_seq LIMIT ?2)
            """, arguments: [run, limit])
        return db.changesCount
    }

    /// A key and the sequence number of its event: what a run holds, in this order.
    struct Entry: Comparable, Sendable {
        let key: Int64
        let seq: Int64

        static func < (a: Entry, b: Entry) -> Bool { (a.key, a.seq) < (b.key, b.seq) }

        static func pack(_ entries: ArraySlice<Entry>) -> Data {
            var data = Data(capacity: entries.count * 16)
            for entry in entries {
                withUnsafeBytes(of: entry.key.littleEndian) { data.append(contentsOf: $0) }
                withUnsafeBytes(of: entry.seq.littleEndian) { data.append(contentsOf: $0) }
            }
            return data
        }

        static func unpack(_ data: Data) -> [Entry] {
            data.withUnsafeBytes { raw in
                (0..<raw.count / 16).map {
                    Entry(key: Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 16, as: Int64.self)),
                          seq: Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 16 + 8, as: Int64.self)))
                }
            }
        }
    }

    // MARK: Merging

    /// The oldest `fanout` runs of the lowest level that has that many, to merge into one of the next level.
    private mutating func startMerge() -> Merge? {
        let levels = Dictionary(grouping: runs, by: \.level)
        guard let level = levels.keys.sorted().first(where: { levels[$0]!.count >= fanout }) else { return nil }
        let inputs = levels[level]!.prefix(fanout)
        let count = inputs.reduce(0) { $0 + $1.count }
        defer { nextRun += 1 }
        return Merge(inputs: inputs.map(\.id), output: nextRun, level: level + 1, pageEntries: pageEntries,
                     filter: KeyFilter(capacity: count), slices: max(1, (count + stepRows - 1) / stepRows))
    }

    /// Lists the merged run in place of its inputs, whose rows are deleted in the steps that follow.
    private mutating func finish(_ merge: Merge, _ db: Database) throws {
        for run in merge.inputs { try db.execute(sql: "DELETE FROM message_key_runs WHERE run = ?", arguments: [run]) }
        runs.removeAll { merge.inputs.contains($0.id) }
        try list(Run(id: merge.output, level: merge.level, count: merge.written, filter: merge.filter), db)
        retired += merge.inputs
    }

    /// A merge of runs, a slice of the key space at a time (keys are hashes: each slice holds about as many).
    private struct Merge {
        let inputs: [Int64]
        let output: Int64
        let level: Int
        let pageEntries: Int
        var filter: KeyFilter
        let slices: Int
        var done = 0
        var written = 0

        /// Merges slices until `budget` keys are spent; true when every slice is done.
        mutating func advance(budget: inout Int, _ db: Database) throws -> Bool {
            while budget > 0, done < slices {
                let low = Self.start(of: done, among: slices)
                let high = done + 1 < slices ? Self.start(of: done + 1, among: slices) - 1 : .max
                var entries: [Entry] = []
                for run in inputs {  // the pages from the last that starts before the slice to the last within it
                    let pages = try Data.fetchAll(db.cachedStatement(sql: """
                        SELECT entries FROM message_keys WHERE run = ?1 AND first_key <= ?3 AND first_key >= coalesce(
                            (SELECT max(first_key) FROM message_keys WHERE run = ?1 AND first_key < ?2), -9223372036854775808)
                        """), arguments: [run, low, high])
                    for page in pages { entries += Entry.unpack(page).filter { (low...high).contains($0.key) } }
                }
                entries.sort()
                try MessageKeys.write(entries, to: output, pageEntries: pageEntries, filter: &filter, db)
                written += entries.count
                budget -= max(1, entries.count)
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
