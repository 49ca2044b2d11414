import Foundation
import GRDB
import Synchronization
import TagflowCore

/// How hard a commit waits for the disk.
public enum Durability: String, Sendable, Codable {
    /// fsync on every commit: an acknowledged event survives a power cut.
    case full
    /// fsync at checkpoints: an acknowledged event survives a crash of Tagflow, not of the machine.
    case normal
}

/// The embedded store: one SQLite database (WAL) in a data directory.
///
/// Writes are serialised by SQLite; the identity graph lives in memory beside it and is only touched
/// inside write transactions, so graph and tables move together.
public final class SQLiteStore: Sendable {
    let pool: DatabasePool
    let graph: Mutex<IdentityGraph>
    /// Live sources by write key (every request looks its key up), loaded on demand and dropped by
    /// create and revoke; the generation keeps a load that raced with a change from being kept.
    let liveSources = Mutex<(generation: Int, byKey: [String: Source]?)>((0, nil))
    let policy: IdentityPolicy
    /// The tag engine and the definitions in force.
    let tagRuntime: Mutex<TagRuntime>
    /// Where each profile's events are (``EventFiling``); changed only inside ingestion commits.
    /// What the writer keeps of the log's tail until it is filed in bulk.
    let logFiling: Mutex<LogFiling>
    /// The CPU time the writer's thread has spent in the tag engine during ingestion commits, in nanoseconds:
    /// beside the writer's own CPU time, the share of ingestion the tags take (`/metrics`, `bench ingest`).
    private let tagEngineNanoseconds = Atomic<Int>(0)
    /// Moves on every commit that put messages in the outbox: the dispatcher watches it.
    public let outboxCommits = Atomic<Int>(0)
    /// Moves on every change to a destination: the dispatcher keeps them in memory until it moves.
    public let destinationChanges = Atomic<Int>(0)
    let durability: Durability
    /// Calendar windows (`today`, `this month`) follow this time zone.
    public let calendar: WorkspaceCalendar
    public let path: String
    private let checkpointer: Checkpointer

    /// Opens (creating if needed) `tagflow.sqlite` in `directory` and loads the identity graph.
    public init(
        directory: String, durability: Durability = .full, policy: IdentityPolicy = .standard,
        calendar: WorkspaceCalendar = .shanghai
    ) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = (directory as NSString).appendingPathComponent("tagflow.sqlite")
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.prepareDatabase { db in
            // Large pages mean fewer WAL frames and syscalls per commit (effective only for a new database);
            // a bigger cache keeps the indexes hot. Checkpoints are the checkpointer's job; SQLite's own, at
            // 256 MB of WAL, is only a safety net.
            try db.execute(sql: "PRAGMA page_size = 16384")
            try db.execute(sql: "PRAGMA cache_size = -65536")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 16384")
            try db.execute(sql: "PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        self.durability = durability
        try SQLiteSchema.migrator.migrate(pool)
        checkpointer = try Checkpointer(path: path)
        self.policy = policy
        self.calendar = calendar
        graph = Mutex(try pool.read { try Self.loadGraph($0, policy: policy) })
        tagRuntime = Mutex(.empty(calendar: calendar))
        logFiling = Mutex(try pool.read { try LogFiling.load($0) })
        try reloadTags()
    }

    /// Rebuilds the tag engine from the definitions and the event log, recording any difference from the
    /// stored tag state (there should be none) as `recovery` changes.
    func reloadTags() throws {
        try pool.write { db in
            try self.tagRuntime.withLock { runtime in
                runtime = try TagRuntime.load(db, calendar: self.calendar, policy: self.policy)
            }
        }
    }

    static func loadGraph(_ db: Database, policy: IdentityPolicy) throws -> IdentityGraph {
        var graph = IdentityGraph(policy: policy)
        let rows = try Row.fetchCursor(db, sql: "SELECT type, value, profile_id FROM identifiers")
        while let row = try rows.next() {
            graph.restore(Identifier(row[0], row[1]), of: ProfileID(row[2]))
        }
        if let maxID = try Int64.fetchOne(db, sql: "SELECT max(id) FROM profiles") {
            graph.reserve(upTo: ProfileID(maxID))
        }
        return graph
    }

    /// Closes the database; later calls fail.
    public func close() throws {
        try checkpointer.stop()
        try pool.close()
    }
}

// MARK: - Ingestion

extension SQLiteStore {
    /// Writes the submissions in one transaction and returns a receipt for each, in order.
    /// Nothing is acknowledged before the commit. Blocks until the commit is durable: call it from a
    /// thread of its own (the write queue's writer thread), not from the cooperative pool under load.
    public func ingest(_ submissions: [IngestSubmission]) throws -> [IngestReceipt] {
        try ingest { _ in submissions }
    }

    /// Writes the submissions `make` returns, in the same transaction as what `make` read to build them.
    func ingest(_ make: (Database) throws -> [IngestSubmission]) throws -> [IngestReceipt] {
        defer { announceOutbox() }
        do {
            return try pool.write { db in
                try self.graph.withLock { graph in
                    try self.tagRuntime.withLock { runtime in
                        try self.logFiling.withLock { log in
                            try self.write(make(db), graph: &graph, runtime: &runtime, log: &log, db)
                        }
                    }
                }
            }
        } catch {
            // The transaction rolled back: bring the graph and the tags back in line with the tables.
            let reloaded = try pool.read { try Self.loadGraph($0, policy: self.policy) }
            graph.withLock { $0 = reloaded }
            let reloadedLog = try pool.read { try LogFiling.load($0) }
            logFiling.withLock { $0 = reloadedLog }
            try reloadTags()
            throw error
        }
    }
}

extension SQLiteStore {
    /// The CPU time the writer has spent in the tag engine during ingestion commits since Tagflow started.
    public var tagEngineCPUTime: Duration { .nanoseconds(tagEngineNanoseconds.load(ordering: .relaxed)) }

    /// One commit: the events, their identities and where they are filed, the tag changes they make and the
    /// outbox messages those make; the CPU time the tag engine took is counted (``tagEngineCPUTime``).
    private func write(
        _ submissions: [IngestSubmission], graph: inout IdentityGraph, runtime: inout TagRuntime, log: inout LogFiling,
        _ db: Database
    ) throws -> [IngestReceipt] {
        var writer = IngestWriter(db: db, engine: runtime.engine, forwarding: runtime.automations.forwardsEvents)
        defer { tagEngineNanoseconds.add(Int(writer.engineTime / .nanoseconds(1)), ordering: .relaxed) }
        var receipts: [IngestReceipt] = []
        for submission in submissions {
            receipts.append(try writer.write(submission, graph: &graph, log: &log))
        }
        try writer.finish()
        try log.fileIfDue(db)
        runtime.enqueued += try runtime.automations.enqueue(writer.forwarded ?? [], db)
        runtime.enqueued += try runtime.automations.enqueue(writer.merges, db)
        try runtime.record(writer.tagChanges, clock: runtime.engine.now, db)
        return receipts
    }
}

/// Writes one commit's submissions. A profile's first/last seen and event count are not stored: they are
/// read from the events themselves (``EventFiling``), so merges and late events keep them right.
struct IngestWriter {
    let db: Database
    let engine: TagEngine
    var accepted: Int64 = 0
    var deduplicated: Int64 = 0
    var quarantined: Int64 = 0
    var tagChanges = TagChanges()
    /// The commit's events not yet given to the engine: they go in runs (``applyHeldEvents()``), so that the
    /// engine asks for the memory of the profiles a few events ahead while it works on one — between two
    /// events the writer's SQLite work has pushed a profile's state out of the cache. In the same order as
    /// one by one: a merge applies the events before it first, and the commit all of them before its changes
    /// are recorded.
    private var heldEvents: [EngineInput] = []
    /// The CPU time this thread has spent in the engine during the commit.
    private(set) var engineTime = Duration.zero
    /// The merges made, for `profile.merged` automations.
    var merges: [(merge: ProfileMerge, at: EpochMillis, eventSeq: Int64?)] = []
    /// The events stored, when an automation forwards events.
    var forwarded: [ForwardedEvent]?
    /// Whether any tag is defined: without one the engine has nothing to keep (a tag defined later is
    /// back-filled from the log), and the events are not read for it.
    let tagsLive: Bool

    init(db: Database, engine: TagEngine, forwarding: Bool = false) {
        self.db = db
        self.engine = engine
        forwarded = forwarding ? [] : nil
        tagsLive = !engine.tagSet.tags.isEmpty
    }

    mutating func write(
        _ submission: IngestSubmission, graph: inout IdentityGraph, log: inout LogFiling
    ) throws -> IngestReceipt {
        var receipt = IngestReceipt()
        let insertEvent = try BoundStatement(db.cachedStatement(sql: """
            INSERT INTO events(message_id, source_id, type, name, profile_id, ts, received_at, flags, payload)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """))
        try submission.events.withUnsafeBufferPointer { events in
            for i in events.indices {
                try write(
                    events.baseAddress! + i, of: submission, insertEvent, into: &receipt, graph: &graph, log: &log)
            }
        }
        for rejected in submission.rejections {
            let r = rejected.rejection
            try db.execute(sql: """
                INSERT INTO quarantine(received_at, source_id, position, code, field, message, payload)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [submission.receivedAt, submission.sourceID, r.position, r.code, r.field, r.message,
                                 rejected.payload.jsonString])
            receipt.quarantined += 1
        }
        accepted += Int64(receipt.accepted)
        deduplicated += Int64(receipt.deduplicated)
        quarantined += Int64(receipt.quarantined)
        return receipt
    }

    /// Writes one event of `submission`: its identities, its row, its place in the files, what it does to
    /// the tags and traits. The event is read where it lies (a copy of one counted a reference to each of its
    /// ten parts, and back, for every event of every commit).
    private mutating func write(
        _ event: UnsafePointer<Event>, of submission: IngestSubmission, _ insertEvent: BoundStatement,
        into receipt: inout IngestReceipt, graph: inout IdentityGraph, log: inout LogFiling
    ) throws {
        // A message already stored (a client's retry) changes nothing: not even identities, whose links,
        // merges and refusals it made the first time.
        let message = event.pointee.messageId.map { log.messages.message($0, source: submission.sourceID) }
        if let message, try log.messages.holds(message, db) {
            receipt.deduplicated += 1
            return
        }
        var identifiers = event.pointee.identifiers
        if let previousId = event.pointee.previousId { identifiers.append(graph.aliasIdentifier(previousId)) }
        let resolution = graph.resolve(identifiers)
        let profile = resolution.profile
        if resolution.created {
            try BoundStatement(db.cachedStatement(sql: "INSERT INTO profiles(id, created_at) VALUES (?, ?)"))
                .execute(db, .int(profile.rawValue), .int(submission.receivedAt))
        }
        for identifier in resolution.linked {
            // Only identifiers new to the graph are linked: the table is appended to.
            try BoundStatement(db.cachedStatement(sql: """
                INSERT INTO identifiers(type, value, profile_id, linked_at) VALUES (?, ?, ?, ?)
                """)).execute(
                    db, .text(identifier.type), .text(identifier.value), .int(profile.rawValue),
                    .int(event.pointee.timestamp))
        }
        try insertEvent.execute(
            db, .text(event.pointee.messageId), .int(submission.sourceID), .text(event.pointee.type.rawValue),
            .text(event.pointee.name), .int(profile.rawValue), .int(event.pointee.timestamp),
            .int(event.pointee.receivedAt), .int(event.pointee.clampedFromFuture ? 1 : 0),
            .utf8(event.pointee.payloadUTF8))
        let seq = BoundStatement.lastInsertedRowID(db)
        log.events.inserted(seq: seq, of: profile)
        if let message { log.messages.inserted(message, seq: seq) }
        for merge in resolution.merges {
            try apply(merge, at: event.pointee.timestamp, eventSeq: seq, log: &log)
            merges.append((merge, event.pointee.timestamp, seq))
            applyHeldEvents()
            timingEngine { $0.merge(merge.loser, into: merge.survivor, now: submission.receivedAt, changes: &$1) }
        }
        for refusal in resolution.refusals {
            try db.execute(sql: """
                INSERT INTO merges(at, event_seq, survivor, loser, identifier_type, identifier_value, accepted, reason)
                VALUES (?, ?, ?, ?, ?, ?, 0, ?)
                """, arguments: [event.pointee.timestamp, seq, refusal.profile.rawValue, refusal.other?.rawValue,
                                 refusal.identifier.type, refusal.identifier.value, refusal.reason])
        }
        receipt.accepted += 1
        if tagsLive || forwarded != nil {
            let ruleEvent = RuleEvent(event, seq: seq)
            if tagsLive { heldEvents.append(EngineInput(ruleEvent, to: profile, now: submission.receivedAt)) }
            forwarded?.append(ForwardedEvent(event: ruleEvent, profile: profile, payload: event.pointee.payloadJSON))
        }
        if !event.pointee.traits.isEmpty {
            try log.traits.set(event.pointee.traits, of: profile, at: event.pointee.timestamp, db)
        }
        if let replayOf = submission.replayOf {
            try db.execute(sql: """
                UPDATE quarantine SET status = 'replayed', resolved_at = ?, replayed_seq = ? WHERE id = ?
                """, arguments: [submission.receivedAt, seq, replayOf])
        }
    }

    /// Folds `merge.loser` into `merge.survivor`: identifiers, history and traits (newest wins).
    func apply(_ merge: ProfileMerge, at time: EpochMillis, eventSeq: Int64?, log: inout LogFiling) throws {
        let (loser, survivor) = (merge.loser.rawValue, merge.survivor.rawValue)
        try db.execute(sql: "UPDATE identifiers SET profile_id = ? WHERE profile_id = ?", arguments: [survivor, loser])
        try log.events.moveEvents(of: merge.loser, to: merge.survivor, db)
        try log.traits.moveTraits(of: merge.loser, to: merge.survivor, db)
        try db.execute(sql: """
            UPDATE profiles SET created_at = min(created_at, (SELECT created_at FROM profiles WHERE id = ?2)) WHERE id = ?1
            """, arguments: [survivor, loser])
        try db.execute(sql: "UPDATE profiles SET merged_into = ?1 WHERE id = ?2 OR merged_into = ?2",
                       arguments: [survivor, loser])
        try db.execute(sql: """
            INSERT INTO merges(at, event_seq, survivor, loser, identifier_type, identifier_value, accepted)
            VALUES (?, ?, ?, ?, ?, ?, 1)
            """, arguments: [time, eventSeq, survivor, loser, merge.via.type, merge.via.value])
    }

    /// Gives the engine the events held back, in order.
    private mutating func applyHeldEvents() {
        guard !heldEvents.isEmpty else { return }
        let events = heldEvents[...]
        timingEngine { $0.apply(events, changes: &$1) }
        heldEvents.removeAll(keepingCapacity: true)
    }

    /// Runs `body` with the engine and the commit's changes, counting the CPU time it takes.
    private mutating func timingEngine(_ body: (TagEngine, inout TagChanges) -> Void) {
        let before = cpuTime(CLOCK_THREAD_CPUTIME_ID)
        body(engine, &tagChanges)
        engineTime += cpuTime(CLOCK_THREAD_CPUTIME_ID) - before
    }

    /// Applies the events held back and adds the commit's counts to the global counters.
    mutating func finish() throws {
        applyHeldEvents()
        for (name, value) in [("events_accepted", accepted), ("events_deduplicated", deduplicated),
                              ("events_quarantined", quarantined)] where value > 0 {
            try Counters.add(value, to: name, db)
        }
    }
}
