import Foundation
import GRDB
import TagflowCore

/// The automations in force, by the tag or segment they watch, and how matching changes enter the outbox:
/// in the transaction that records the change, so a change is never recorded without its messages, nor a
/// message written for a change that was rolled back.
struct AutomationIndex: Sendable {
    private var bySubject: [String: [Automation]] = [:]
    private var onMerge: [Automation] = []
    private var onEvent: [(automation: Automation, filter: EventFilter)] = []

    var isEmpty: Bool { bySubject.isEmpty && onMerge.isEmpty && onEvent.isEmpty }
    /// Whether some automation forwards raw events (the ingest path keeps them for it only then).
    var forwardsEvents: Bool { !onEvent.isEmpty }

    static func load(_ db: Database) throws -> AutomationIndex {
        var index = AutomationIndex()
        for automation in try SQLiteStore.automations(db) where automation.enabled {
            if automation.trigger.on == "profile.merged" { index.onMerge.append(automation) }
            if automation.trigger.on == "event", let event = automation.trigger.event,
               let filter = try? EventFilter(event: event, where: automation.trigger.condition) {
                index.onEvent.append((automation, filter))
            }
            guard let subject = automation.trigger.subject else { continue }
            index.bySubject[subject, default: []].append(automation)
        }
        return index
    }

    /// Writes one outbox message per (change, matching automation), in change order.
    func enqueue(_ changes: TagChanges, tagSet: TagSet, _ db: Database) throws -> Int {
        guard !bySubject.isEmpty else { return 0 }
        var written = 0
        let now = EpochMillis((Date().timeIntervalSince1970 * 1000).rounded())
        for i in changes.indices {
            // Most changes are of tags no automation sends: those are not made into a `TagChange`.
            guard let automations = bySubject[changes.tag(at: i)] else { continue }
            let change = changes[i]
            let definition = tagSet[change.tag]
            let isSegment = definition?.isSegment ?? false
            for automation in automations where automation.trigger.matches(change, isSegment: isSegment) {
                let type = Self.type(of: change, isSegment: isSegment)
                let body = try Self.body(type: type, change: change, name: definition?.displayName, isSegment: isSegment, db)
                try Self.insert(automation, profile: change.profile, type: type, body: body, now: now, db)
                written += 1
            }
        }
        return written
    }

    /// Writes one `profile.merged` message per (merge, automation on merges).
    func enqueue(_ merges: [(merge: ProfileMerge, at: EpochMillis, eventSeq: Int64?)], _ db: Database) throws -> Int {
        guard !onMerge.isEmpty, !merges.isEmpty else { return 0 }
        let now = EpochMillis((Date().timeIntervalSince1970 * 1000).rounded())
        var written = 0
        for (merge, at, seq) in merges {
            var data: JSONObject = [
                "profile": ["id": .int(merge.survivor.rawValue), "identifiers": .object(try Self.identifiers(of: merge.survivor, db))],
                "merged": ["id": .int(merge.loser.rawValue)],
                "via": ["type": .string(merge.via.type), "value": .string(merge.via.value)],
                "cause": "event",
            ]
            if let seq { data["causeRef"] = .int(seq) }
            let body = JSONValue.object(["type": "profile.merged", "timestamp": .string(Timestamp.format(at)), "data": .object(data)]).jsonString
            for automation in onMerge {
                try Self.insert(automation, profile: merge.survivor, type: "profile.merged", body: body, now: now, db)
                written += 1
            }
        }
        return written
    }

    /// Writes one `event` message per (arriving event, automation whose filter it passes), the event as sent.
    func enqueue(_ events: [ForwardedEvent], _ db: Database) throws -> Int {
        guard !onEvent.isEmpty, !events.isEmpty else { return 0 }
        let now = EpochMillis((Date().timeIntervalSince1970 * 1000).rounded())
        var written = 0
        for forwarded in events {
            let matching = onEvent.filter { $0.filter.matches(forwarded.event) }
            guard !matching.isEmpty else { continue }
            let profile: JSONValue = ["id": .int(forwarded.profile.rawValue), "identifiers": .object(try Self.identifiers(of: forwarded.profile, db))]
            // The stored payload is spliced in as it is: it is already JSON.
            let body = #"{"type":"event","timestamp":"# + JSONValue.string(Timestamp.format(forwarded.event.timestamp)).jsonString
                + #","data":{"profile":"# + profile.jsonString + #","seq":\#(forwarded.event.seq),"name":"#
                + JSONValue.string(forwarded.event.name).jsonString + #","event":"# + forwarded.payload + "}}"
            for (automation, _) in matching {
                try Self.insert(automation, profile: forwarded.profile, type: "event", body: body, now: now, db)
                written += 1
            }
        }
        return written
    }

    /// One message for an automation's destination: due now, or waiting if the person has one pending there.
    static func insert(_ automation: Automation, profile: ProfileID, type: String, body: String, now: EpochMillis, _ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO outbox(destination_id, profile_id, automation_id, type, body, created_at, next_attempt_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN EXISTS (SELECT 1 FROM outbox WHERE status = 'pending'
                                                 AND destination_id = ?1 AND profile_id = ?2) THEN ?7 ELSE ?6 END)
            """).execute(arguments: [automation.destination, profile.rawValue, automation.id, type, body, now, OutboxMessage.waiting])
    }

    static func type(of change: TagChange, isSegment: Bool) -> String {
        if isSegment { return change.new == nil ? "segment.exited" : "segment.entered" }
        if change.old == nil { return "tag.added" }
        return change.new == nil ? "tag.removed" : "tag.changed"
    }

    /// The JSON a receiver gets: what changed, for whom (every identifier), when and why.
    static func body(type: String, change: TagChange, name: String?, isSegment: Bool, _ db: Database) throws -> String {
        var data: JSONObject = [
            "profile": ["id": .int(change.profile.rawValue), "identifiers": .object(try identifiers(of: change.profile, db))],
            "cause": .string(change.cause.kind),
        ]
        switch change.cause {
        case .event(let seq): data["causeRef"] = .int(seq)
        case .merge(let from, let into): data["causeRef"] = .int(change.profile == from ? into.rawValue : from.rawValue)
        default: break
        }
        if isSegment {
            data["segment"] = .string(change.tag)
        } else {
            data["tag"] = .string(change.tag)
            data["old"] = change.old?.json ?? .null
            data["new"] = change.new?.json ?? .null
        }
        data["name"] = .string(name ?? change.tag)
        let event: JSONObject = ["type": .string(type), "timestamp": .string(Timestamp.format(change.at)), "data": .object(data)]
        return JSONValue.object(event).jsonString
    }

    /// A profile's identifiers by type: `{"user_id": ["u-42"], "phone": ["13800138000"]}`.
    static func identifiers(of profile: ProfileID, _ db: Database) throws -> JSONObject {
        var identifiers = JSONObject()
        let statement = try db.cachedStatement(sql: "SELECT type, value FROM identifiers WHERE profile_id = ? ORDER BY type, value")
        for row in try Row.fetchAll(statement, arguments: [profile.rawValue]) {
            let type: String = row[0]
            var values: [JSONValue] = if case .array(let items)? = identifiers[type] { items } else { [] }
            values.append(.string(row[1] as String))
            identifiers[type] = .array(values)
        }
        return identifiers
    }
}

/// An event as it arrived, kept for forwarding automations.
struct ForwardedEvent {
    var event: RuleEvent
    var profile: ProfileID
    /// The stored payload (JSON text).
    var payload: String
}
