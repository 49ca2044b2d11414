import GRDB
import TagflowCore

/// Works out (and, when asked, carries out) a change to the tag definitions: checks the whole resulting tag
/// set, back-fills it over the event history, and compares who has each changed tag before and after.
struct TagPlanner {
    let db: Database
    let calendar: WorkspaceCalendar
    let policy: IdentityPolicy
    let knownEvents: Set<String>
    let knownTraits: Set<String>

    init(db: Database, calendar: WorkspaceCalendar, policy: IdentityPolicy) throws {
        self.db = db
        self.calendar = calendar
        self.policy = policy
        knownEvents = try SQLiteStore.knownEventNames(db)
        knownTraits = try SQLiteStore.knownTraitKeys(db)
    }

    func plan(
        _ change: TagDefinitionChange, actor: String, now: EpochMillis, apply: Bool, into runtime: inout TagRuntime
    ) throws -> TagPlan {
        // Bring the live state up to `now` first: what time changed until now is real, plan or not.
        var timeChanges = TagChanges()
        runtime.engine.advance(to: now, changes: &timeChanges)
        try runtime.record(timeChanges, clock: runtime.engine.now, db)

        let current = runtime.records
        var active = runtime.activeSources
        var sources: [RuleSource] = []
        var requested: [String: String] = [:]  // id → the action asked for by status changes
        switch change {
        case .upsert(let texts), .replaceAll(let texts):
            let defined = Set(texts.flatMap { RuleCompiler.tagIDs(in: $0.text) })
            if case .replaceAll = change {
                for id in active.keys where !defined.contains(id) { requested[id] = "delete" }
                active = [:]
            }
            sources = texts + active.filter { !defined.contains($0.key) }.sorted { $0.key < $1.key }
                .map { TagRuntime.storedSource($0.key, $0.value) }
        case .disable(let id), .delete(let id):
            guard let record = current[id], record.status != .deleted else { throw TagError.unknownTag(id) }
            if case .disable = change, record.status == .disabled { return TagPlan(applied: false, diagnostics: [], entries: []) }
            requested[id] = { if case .delete = change { return "delete" } else { return "disable" } }()
            active[id] = nil
            // Segments built on what goes away are kept and flagged broken, not refused nor left silently empty.
            var gone: Set<String> = [id]
            var grew = true
            while grew {
                grew = false
                for (other, text) in active where current[other]?.kind == "segment" {
                    guard let header = RuleCompiler.headers(in: text).first, header.references.contains(where: gone.contains) else {
                        continue
                    }
                    gone.insert(other)
                    active[other] = nil
                    requested[other] = "break"
                    grew = true
                }
            }
            sources = active.sorted { $0.key < $1.key }.map { TagRuntime.storedSource($0.key, $0.value) }
        case .enable(let id):
            guard let record = current[id], record.status == .disabled || record.status == .broken else {
                throw TagError.unknownTag(id)
            }
            requested[id] = "enable"
            active[id] = record.source
            sources = active.sorted { $0.key < $1.key }.map { TagRuntime.storedSource($0.key, $0.value) }
        }

        let (compiled, all) = RuleCompiler.compile(sources, knownEvents: knownEvents, knownTraits: knownTraits)
        let diagnostics = TagRuntime.relevant(all)
        guard let tagSet = compiled else { return TagPlan(applied: false, diagnostics: diagnostics, entries: []) }

        // What each tag's change is.
        var actions: [String: String] = requested
        for tag in tagSet.tags where actions[tag.id] == nil {
            let before = current[tag.id]
            if before == nil || before?.status == .deleted {
                actions[tag.id] = "create"
            } else if before?.status == .disabled || before?.status == .broken {
                actions[tag.id] = "enable"
            } else {
                actions[tag.id] = before?.source == tag.source ? "unchanged" : "edit"
            }
        }

        // Back-fill over the whole history, then compare.
        let candidate = try TagReplay.rebuild(db, tagSet: tagSet, calendar: calendar, policy: policy, until: runtime.engine.now)
        let old = runtime.engine
        let profiles = Set(old.profileIDsInEngine).union(candidate.profileIDsInEngine).sorted()
        for profile in profiles {
            for state in old.tags(of: profile) {
                candidate.restoreSince(state.since, of: state.tag, for: profile, value: state.value)
            }
        }
        var entries: [TagPlan.Entry] = []
        var changes = TagChanges()
        for (id, action) in actions.sorted(by: { $0.key < $1.key }) {
            let version = action == "unchanged" ? current[id]?.version ?? 1 : (current[id]?.version ?? 0) + 1
            var entry = TagPlan.Entry(
                action: action, tag: id, version: version, membersBefore: 0, membersAfter: 0, gained: 0, lost: 0,
                changed: 0, gainedSample: [], lostSample: [])
            for profile in profiles {
                let before = old.value(of: id, for: profile)?.value
                let after = candidate.value(of: id, for: profile)?.value
                if before != nil { entry.membersBefore += 1 }
                if after != nil { entry.membersAfter += 1 }
                guard before != after else { continue }
                switch (before, after) {
                case (nil, _):
                    entry.gained += 1
                    if entry.gainedSample.count < 10 { entry.gainedSample.append(profile) }
                case (_, nil):
                    entry.lost += 1
                    if entry.lostSample.count < 10 { entry.lostSample.append(profile) }
                default: entry.changed += 1
                }
                changes.append(TagChange(profile: profile, tag: id, old: before, new: after, at: old.now, cause: .definition))
            }
            entries.append(entry)
        }
        let plan = TagPlan(applied: apply, diagnostics: diagnostics, entries: entries)
        guard apply else { return plan }

        for entry in entries where entry.action != "unchanged" {
            let status: TagDefinitionRecord.Status = switch entry.action {
            case "delete": .deleted
            case "disable": .disabled
            case "break": .broken
            default: .active
            }
            let source = tagSet[entry.tag]?.source ?? current[entry.tag]?.source ?? ""
            try db.execute(sql: """
                INSERT INTO tag_definitions(tag_id, version, source, status, created_at, author) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [entry.tag, entry.version, source, status.rawValue, now, actor])
            try db.execute(sql: """
                INSERT INTO tag_audit(at, actor, action, tag_id, version, before, after) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [now, actor, entry.action, entry.tag, entry.version, current[entry.tag]?.source,
                                 status == .active ? source : nil])
            if let row = try Row.fetchOne(db, sql: """
                SELECT tag_id, version, source, status, created_at, author FROM tag_definitions WHERE tag_id = ? AND version = ?
                """, arguments: [entry.tag, entry.version]) {
                runtime.records[entry.tag] = try TagRuntime.record(row)
            }
        }
        runtime.engine = candidate
        candidate.dateValues(as: changes)
        try runtime.record(changes, clock: candidate.now, db)
        // Tags changed kind or went away: the bitmaps are rebuilt from the engine.
        runtime.index = MembershipIndex(of: candidate)
        return plan
    }
}
