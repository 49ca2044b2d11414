import Foundation
import GRDB
import Synchronization
import TagflowCore

extension SQLiteStore {
    public func automations() throws -> [Automation] {
        try pool.read { db in try Self.automations(db) }
    }

    static func automations(_ db: Database) throws -> [Automation] {
        try Row.fetchAll(db, sql: "SELECT id, name, trigger, destination_id, enabled, created_at FROM automations ORDER BY id").compactMap { row in
            guard let trigger = try? JSONDecoder().decode(AutomationTrigger.self, from: Data((row[2] as String).utf8)) else { return nil }
            return Automation(id: row[0], name: row[1], trigger: trigger, destination: row[3], enabled: row[4],
                              createdAt: Timestamp.format(row[5]))
        }
    }

    /// Creates an automation: from now on, each change its trigger matches goes to its destination.
    public func createAutomation(name: String, trigger: AutomationTrigger, destination key: String, now: EpochMillis) throws -> Automation {
        guard AutomationTrigger.kinds.contains(trigger.on) else {
            throw DeliveryError.invalid("`trigger.on` must be one of " + AutomationTrigger.kinds.joined(separator: ", ")
                + " (`\(trigger.on)` given)")
        }
        let wantsSegment = trigger.on.hasPrefix("segment.")
        let field = wantsSegment ? "segment" : "tag"
        if trigger.value != nil, trigger.on != "tag.added", trigger.on != "tag.changed" {
            throw DeliveryError.invalid("`trigger.value` only goes with tag.added and tag.changed")
        }
        if trigger.on == "event" {
            guard let event = trigger.event, !event.isEmpty else {
                throw DeliveryError.invalid("`event` needs `trigger.event`: an event name, or `any`")
            }
            do {
                _ = try EventFilter(event: event, where: trigger.condition)
            } catch let error as RuleError {
                throw DeliveryError.invalid("`trigger.where` does not check: " + error.diagnostics.map(\.description).joined(separator: "; "))
            }
        } else if trigger.on != "profile.merged" {
            guard let subject = trigger.subject, !subject.isEmpty else { throw DeliveryError.invalid("`\(trigger.on)` needs `trigger.\(field)`") }
            try checkSubject(subject, wantsSegment: wantsSegment)
        }
        let encoded = String(decoding: try JSONEncoder().encode(trigger), as: UTF8.self)
        return try pool.write { db in
            let destination = try Self.destination(key, db)
            try db.execute(sql: """
                INSERT INTO automations(name, trigger, destination_id, enabled, created_at) VALUES (?, ?, ?, 1, ?)
                """, arguments: [name, encoded, destination.id, now])
            let id = db.lastInsertedRowID
            try self.reloadAutomations(db)
            guard let automation = try Self.automations(db).first(where: { $0.id == id }) else { throw DeliveryError.unknownAutomation(id) }
            return automation
        }
    }

    /// Refuses a trigger on a tag or segment that is not active, or of the other kind.
    private func checkSubject(_ subject: String, wantsSegment: Bool) throws {
        let field = wantsSegment ? "segment" : "tag"
        try tagRuntime.withLock { runtime in
            guard let record = runtime.records[subject], record.status == .active else {
                let candidates = runtime.records.values.filter { $0.status == .active && ($0.kind == "segment") == wantsSegment }.map(\.id)
                let hint = closestMatch(to: subject, in: candidates).map { "; did you mean `\($0)`?" } ?? ""
                throw DeliveryError.invalid("no active \(field) `\(subject)`\(hint)")
            }
            guard (record.kind == "segment") == wantsSegment else {
                throw DeliveryError.invalid("`\(subject)` is a \(wantsSegment ? "tag" : "segment"); use "
                    + (wantsSegment ? "tag.added / tag.removed / tag.changed" : "segment.entered / segment.exited"))
            }
        }
    }

    public func setAutomation(_ id: Int64, enabled: Bool) throws -> Automation {
        try pool.write { db in
            try db.execute(sql: "UPDATE automations SET enabled = ? WHERE id = ?", arguments: [enabled, id])
            guard db.changesCount > 0 else { throw DeliveryError.unknownAutomation(id) }
            try self.reloadAutomations(db)
            guard let automation = try Self.automations(db).first(where: { $0.id == id }) else { throw DeliveryError.unknownAutomation(id) }
            return automation
        }
    }

    public func deleteAutomation(_ id: Int64) throws {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM automations WHERE id = ?", arguments: [id])
            guard db.changesCount > 0 else { throw DeliveryError.unknownAutomation(id) }
            try self.reloadAutomations(db)
        }
    }

    private func reloadAutomations(_ db: Database) throws {
        let index = try AutomationIndex.load(db)
        tagRuntime.withLock { $0.automations = index }
    }
}
