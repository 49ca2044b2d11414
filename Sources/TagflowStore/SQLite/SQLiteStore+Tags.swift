import GRDB
import Roaring
import Synchronization
import TagflowCore

// MARK: - Time

extension SQLiteStore {
    /// Moves the tag clock to `now`: every tag time changes (a window slid, a day ended) is recorded at the
    /// exact moment it happened. Returns how many changes were recorded.
    @discardableResult
    public func advanceTags(to now: EpochMillis) throws -> Int {
        guard let due = nextTagDue, due <= now else { return 0 }
        defer { announceOutbox() }
        return try pool.write { db in
            try self.tagRuntime.withLock { runtime in
                var changes = TagChanges()
                runtime.engine.advance(to: now, changes: &changes)
                try runtime.record(changes, clock: runtime.engine.now, db)
                return changes.count
            }
        }
    }

    /// How late the tag clock recorded the changes time made: milliseconds between the moment each was due
    /// and the moment it was written, for every `time` change recorded at or after `since`.
    public func timeChangeLateness(since: EpochMillis) throws -> [Int64] {
        try pool.read { db in
            try Int64.fetchAll(db, sql: """
                SELECT recorded_at - at FROM tag_history WHERE cause = 'time' AND at >= ? ORDER BY 1
                """, arguments: [since])
        }
    }

    /// The next moment time alone changes some profile's tag.
    public var nextTagDue: EpochMillis? {
        tagRuntime.withLock { $0.engine.nextDue }
    }
}

// MARK: - Definitions

extension SQLiteStore {
    /// The latest version of every tag (deleted ones and segments excluded), with member counts.
    public func tagDefinitions() async throws -> [TagDefinitionRecord] {
        try definitions(segments: false)
    }

    /// Every version of one tag, newest first.
    public func tagVersions(_ id: String) async throws -> [TagDefinitionRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT tag_id, version, source, status, created_at, author FROM tag_definitions
                WHERE tag_id = ? ORDER BY version DESC
                """, arguments: [id]).map { try TagRuntime.record($0) }
        }
    }

    /// The audit log of the definitions, newest first; one tag's when `tag` is given.
    public func tagAudit(tag: String?, limit: Int = 100) async throws -> [TagAuditEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, at, actor, action, tag_id, version, before, after FROM tag_audit
                WHERE ?1 IS NULL OR tag_id = ?1 ORDER BY id DESC LIMIT ?2
                """, arguments: [tag, limit]).map {
                TagAuditEntry(id: $0[0], at: Timestamp.format($0[1]), actor: $0[2], action: $0[3], tag: $0[4],
                              version: $0[5], before: $0[6], after: $0[7])
            }
        }
    }

    /// The event names received so far, for the rule checker's suggestions.
    static func knownEventNames(_ db: Database) throws -> Set<String> {
        Set(try String.fetchAll(db, sql: """
            SELECT DISTINCT CASE type WHEN 'track' THEN name ELSE type END FROM events WHERE name IS NOT NULL OR type != 'track'
            """))
    }

    /// The trait keys profiles have, for the rule checker's suggestions.
    static func knownTraitKeys(_ db: Database) throws -> Set<String> {
        Set(try String.fetchAll(db, sql: "SELECT DISTINCT key FROM traits UNION SELECT key FROM trait_log"))
    }

    /// Checks a change to the tag definitions and works out what it does: which tags are created, edited,
    /// disabled or deleted, and who gains and loses each, computed over the whole event history. With
    /// `apply`, it also does it: new versions and the audit log are written, tag state is back-filled, and
    /// every gain and loss is recorded as a `definition` change — all in one transaction.
    public func planTags(_ change: TagDefinitionChange, actor: String, now: EpochMillis, apply: Bool) throws -> TagPlan {
        defer { announceOutbox() }
        return try pool.write { db in
            try self.tagRuntime.withLock { runtime in
                try TagPlanner(db: db, calendar: self.calendar, policy: self.policy)
                    .plan(change, actor: actor, now: now, apply: apply, into: &runtime)
            }
        }
    }
}

// MARK: - State

extension SQLiteStore {
    /// The tags a profile has (following a merge to its survivor), as the engine holds them.
    public func tags(of profile: ProfileID) async throws -> [ProfileTag] {
        let live = try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT coalesce(merged_into, id) FROM profiles WHERE id = ?", arguments: [profile.rawValue])
        } ?? profile.rawValue
        return tagRuntime.withLock { runtime in
            runtime.engine.tags(of: ProfileID(live)).sorted { $0.tag < $1.tag }.map {
                ProfileTag(tag: $0.tag, value: $0.value.json, since: Timestamp.format($0.since))
            }
        }
    }

    /// The profiles that have a tag, by profile number, after `after`; only those with `value` when given.
    public func tagMembers(_ tag: String, value: JSONValue?, after: Int64, limit: Int) async throws -> [TagMember] {
        tagRuntime.withLock { runtime in
            var bitmap = runtime.index.members(of: tag)
            if let value {
                bitmap = runtime.index.valuedTags.contains(tag)
                    ? runtime.index.values(of: tag)[value.jsonString] ?? [] : value.jsonString == "true" ? bitmap : []
            }
            return MembershipIndex.page(of: bitmap, after: after, limit: limit).compactMap { number in
                let profile = ProfileID(Int64(number))
                return runtime.engine.value(of: tag, for: profile).map {
                    TagMember(profile: profile, value: $0.value.json, since: Timestamp.format($0.since))
                }
            }
        }
    }

    /// Recorded tag changes, newest first, of one profile and/or one tag, before the entry `before`.
    public func tagHistory(profile: ProfileID?, tag: String?, before: Int64?, limit: Int) async throws -> [TagHistoryEntry] {
        guard limit > 0 else { return [] }
        return try await pool.read { db in
            let columns = "h.profile_id, h.tag_id, h.old, h.new, h.at, h.cause, h.cause_ref, h.recorded_at"
            let below = before ?? .max
            var rows: [Row] = []
            func take(_ row: Row) -> Bool {
                if tag == nil || row[2] == tag { rows.append(row.copy()) }
                return rows.count < limit
            }
            if let profile {
                try HistoryFiles.forEachRow(of: .profile, is: profile.rawValue, below: below, newestFirst: true, columns: columns, db, take)
            } else if let tag {
                try HistoryFiles.forEachRow(of: .tag, is: tag, below: below, newestFirst: true, columns: columns, db, take)
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT h.id, \(columns) FROM tag_history h WHERE h.id < ? ORDER BY 1 DESC LIMIT ?",
                                        arguments: [below, limit])
            }
            return rows.map {
                TagHistoryEntry(
                    id: $0[0], profile: ProfileID($0[1]), tag: $0[2], old: ($0[3] as String?).flatMap { try? JSONParser.parse($0) },
                    new: ($0[4] as String?).flatMap { try? JSONParser.parse($0) }, at: Timestamp.format($0[5]),
                    cause: $0[6], causeRef: $0[7], recordedAt: Timestamp.format($0[8]))
            }
        }
    }

    /// Why `profile` has `tag` or not, now; nil for a tag that is not active.
    public func explain(_ tag: String, for profile: ProfileID) throws -> TagExplanation? {
        let live = try pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT coalesce(merged_into, id) FROM profiles WHERE id = ?", arguments: [profile.rawValue])
        } ?? profile.rawValue
        return tagRuntime.withLock { $0.engine.explain(tag, for: ProfileID(live)) }
    }
}
