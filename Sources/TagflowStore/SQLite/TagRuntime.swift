import Foundation
import GRDB
import TagflowCore

/// The tag definitions in force and the engine that keeps their state. Lives beside the identity graph
/// and, like it, only changes inside write transactions, so tables and memory move together.
///
/// Unchecked sendability: the engine is a mutable class, and every access to it goes through the store's
/// `tagRuntime` mutex.
struct TagRuntime: @unchecked Sendable {
    var engine: TagEngine
    /// The latest version of every tag ever defined, deleted ones included.
    var records: [String: TagDefinitionRecord]
    /// Who has each tag and segment, as bitmaps. The changes `record` writes reach them in bulk: they wait
    /// aside until the index is read, or until ``membershipBulk`` have come, and are then applied in order —
    /// a reader always sees bitmaps that agree with the engine, and a commit does not walk them change by
    /// change between its other work (a twentieth of the writer's time with 50 tags live).
    var index: MembershipIndex {
        mutating get {
            applyPendingMembership()
            return appliedIndex
        }
        set {
            appliedIndex = newValue
            pendingMembership.removeAll()
        }
    }
    private var appliedIndex: MembershipIndex
    private var pendingMembership: [TagChange] = []
    static let membershipBulk = 65_536
    /// Which changes go to which destinations.
    var automations: AutomationIndex
    /// Outbox messages written since the store last told the dispatcher.
    var enqueued = 0
    /// The history of every change, and the stored state it brings up to date.
    var stateLog = TagStateLog()

    init(
        engine: TagEngine, records: [String: TagDefinitionRecord], index: MembershipIndex, automations: AutomationIndex,
        stateLog: TagStateLog = TagStateLog()
    ) {
        self.engine = engine
        self.records = records
        appliedIndex = index
        self.automations = automations
        self.stateLog = stateLog
    }

    static func empty(calendar: WorkspaceCalendar) -> TagRuntime {
        TagRuntime(engine: TagEngine(tagSet: .empty, calendar: calendar), records: [:], index: MembershipIndex(valuedTags: []),
                   automations: AutomationIndex())
    }

    /// Records tag changes (``TagStateLog``), hands them to the membership bitmaps (``index``, applied in
    /// bulk), and puts the ones automations send into the outbox — all in the caller's transaction.
    mutating func record(_ changes: TagChanges, clock: EpochMillis, _ db: Database) throws {
        try stateLog.record(changes, clock: clock, current: engine.tags(of:), db)
        pendingMembership.append(contentsOf: changes)
        if pendingMembership.count >= Self.membershipBulk { applyPendingMembership() }
        enqueued += try automations.enqueue(changes, tagSet: engine.tagSet, db)
    }

    private mutating func applyPendingMembership() {
        guard !pendingMembership.isEmpty else { return }
        for change in pendingMembership { appliedIndex.apply(change) }
        pendingMembership.removeAll(keepingCapacity: true)
    }

    /// A stored definition, compiled beside the texts of a change; its diagnostics name it.
    static func storedSource(_ id: String, _ text: String) -> RuleSource {
        RuleSource(name: "stored definition `\(id)`", text: text)
    }

    /// The diagnostics a change should show: every error, and the warnings of the texts submitted (a stored
    /// definition's warnings were shown when it was saved).
    static func relevant(_ diagnostics: [RuleDiagnostic]) -> [RuleDiagnostic] {
        diagnostics.filter { $0.severity == .error || !($0.file ?? "").hasPrefix("stored definition `") }
    }

    /// The active tags' texts, by id.
    var activeSources: [String: String] {
        records.values.filter { $0.status == .active }.reduce(into: [:]) { $0[$1.id] = $1.source }
    }

    /// Loads the definitions, rebuilds the engine from the event log up to the stored tag clock, and
    /// restores when each stored tag value began. Differences between the rebuilt and the stored state
    /// (there should be none) are recorded as `recovery` changes.
    static func load(
        _ db: Database, calendar: WorkspaceCalendar, policy: IdentityPolicy
    ) throws -> TagRuntime {
        var records: [String: TagDefinitionRecord] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT tag_id, version, source, status, created_at, author FROM tag_definitions d
            WHERE version = (SELECT max(version) FROM tag_definitions WHERE tag_id = d.tag_id)
            """) {
            records[row[0]] = try record(row)
        }
        let sources = records.values.filter { $0.status == .active }.map { RuleSource(name: $0.id, text: $0.source) }
        let tagSet = try RuleCompiler.compileOrThrow(sources)
        let clock = try Counters.value("tag_clock", db) ?? .min
        let engine = try TagReplay.rebuild(db, tagSet: tagSet, calendar: calendar, policy: policy, until: clock)
        var stateLog = TagStateLog()
        let stored = try stateLog.loadStored(db)
        var corrections = TagChanges()
        let profiles = Set(stored.keys).union(engine.profileIDsInEngine)
        for profile in profiles.sorted() {
            let rebuilt = Dictionary(uniqueKeysWithValues: engine.tags(of: profile).map { ($0.tag, $0.value) })
            let before = stored[profile] ?? [:]
            for (tag, (value, since)) in before {
                engine.restoreSince(since, of: tag, for: profile, value: value)
            }
            for tag in Set(rebuilt.keys).union(before.keys).sorted() where rebuilt[tag] != before[tag]?.0 {
                corrections.append(TagChange(
                    profile: profile, tag: tag, old: before[tag]?.0, new: rebuilt[tag], at: engine.now, cause: .recovery))
            }
        }
        var runtime = TagRuntime(engine: engine, records: records, index: MembershipIndex(of: engine),
                                 automations: try AutomationIndex.load(db), stateLog: stateLog)
        engine.dateValues(as: corrections)
        try runtime.record(corrections, clock: engine.now, db)
        return runtime
    }

    static func record(_ row: Row, members: Int? = nil) throws -> TagDefinitionRecord {
        let source: String = row[2]
        let header = RuleCompiler.headers(in: source).first
        return TagDefinitionRecord(
            id: row[0], version: row[1], displayName: header?.displayName ?? row[0],
            category: header?.category.rawValue ?? "", description: header?.description ?? "",
            owner: header?.owner ?? "", kind: header?.kind ?? "", source: source,
            status: TagDefinitionRecord.Status(rawValue: row[3]) ?? .disabled, createdAt: Timestamp.format(row[4]),
            author: row[5], members: members)
    }
}

/// Rebuilds tag state from the event log: every event, in log order, to the profile it belongs to now.
enum TagReplay {
    static func rebuild(
        _ db: Database, tagSet: TagSet, calendar: WorkspaceCalendar, policy: IdentityPolicy, until clock: EpochMillis
    ) throws -> TagEngine {
        let engine = TagEngine(tagSet: tagSet, calendar: calendar)
        guard !tagSet.tags.isEmpty else { return engine }
        let sourceNames = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT id, name FROM sources").map {
            ($0[0] as Int64, $0[1] as String)
        })
        var ignored = TagChanges()
        // In batches: the engine asks for the memory of the profiles a few events ahead while it works.
        var batch: [EngineInput] = []
        batch.reserveCapacity(512)
        func applyBatch() {
            engine.apply(batch[...], changes: &ignored)
            ignored.removeAll(keepingCapacity: true)
            batch.removeAll(keepingCapacity: true)
        }
        let rows = try Row.fetchCursor(db, sql: """
            SELECT seq, source_id, type, name, profile_id, ts, received_at, payload FROM events ORDER BY seq
            """)
        while let row = try rows.next() {
            guard let payload = (try? JSONParser.parse(row[7] as String))?.objectValue else { continue }
            let type = EventType(rawValue: row[2]) ?? .track
            let event = RuleEvent(
                seq: row[0], name: type == .track ? (row[3] as String?) ?? "track" : type.rawValue, timestamp: row[5],
                payload: payload, traits: type == .identify ? IdentifierExtraction.personTraits(of: payload) : JSONObject(),
                identifiers: IdentifierExtraction.identifiers(
                    in: payload, userId: IdentifierExtraction.scalarString(payload["userId"]),
                    anonymousId: IdentifierExtraction.scalarString(payload["anonymousId"]),
                    sourceName: sourceNames[row[1]] ?? "", policy: policy))
            batch.append(EngineInput(event, to: ProfileID(row[4]), now: row[6]))
            if batch.count == 512 { applyBatch() }
        }
        applyBatch()
        engine.advance(to: clock, changes: &ignored)
        return engine
    }
}

extension RuleValue {
    /// The value as stored: JSON text (`true` for a boolean tag, most of them, without building any; other
    /// text as bytes, not decoded into a `String`).
    var storedJSON: BoundValue {
        switch self {
        case .bool(true): .text("true")
        case .bool(false): .text("false")
        case .number(let n) where n.rounded() == n && abs(n) < 9e15: .text(String(Int64(n)))  // as `json` writes it
        default: .utf8(json.jsonUTF8)
        }
    }
}

extension TagEngine {
    /// Dates each value the changes gave by the moment they record (a back-fill found the value in the
    /// past, but the profile has it from the change on), so the engine and the stored history agree.
    func dateValues(as changes: TagChanges) {
        for change in changes {
            if let value = change.new { restoreSince(change.at, of: change.tag, for: change.profile, value: value) }
        }
    }
}
