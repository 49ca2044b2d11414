import Foundation
import GRDB
import TagflowCore

// Consent per profile and purpose lives in the profile's `consent` trait — `{"marketing": false, "sms": true}` —
// as identify calls send it (`traits: {consent: {marketing: false}}`) or the admin API records it. A purpose
// is withdrawn when its value says no; a purpose never mentioned is not withdrawn.

extension SQLiteStore {
    /// Of the given (profile, purpose) pairs, the ones whose profile (or the profile it merged into) withdrew
    /// that purpose, as `"<profile>#<purpose>"`.
    public func withdrawnConsent(_ pairs: [(profile: ProfileID, purpose: String)]) throws -> Set<String> {
        guard !pairs.isEmpty else { return [] }
        let list = Set(pairs.map(\.profile.rawValue)).map(String.init).joined(separator: ",")
        let consent: [Int64: JSONObject] = try pool.read { db in
            var found: [Int64: JSONObject] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT p.id, t.value FROM profiles p
                JOIN (\(TraitLog.currentSQL(of: "(SELECT coalesce(merged_into, id) FROM profiles WHERE id IN (\(list)))",
                                             key: "consent"))) t ON t.profile_id = coalesce(p.merged_into, p.id)
                WHERE p.id IN (\(list))
                """) {
                if let object = (try? JSONParser.parse(row[1] as String))?.objectValue { found[row[0]] = object }
            }
            return found
        }
        var withdrawn = Set<String>()
        for (profile, purpose) in pairs where Self.says(no: consent[profile.rawValue]?[purpose]) {
            withdrawn.insert("\(profile.rawValue)#\(purpose)")
        }
        return withdrawn
    }

    /// Records consent given (`true`) or withdrawn (`false`) per purpose for a profile (its survivor if it was
    /// merged), as of `now`; returns the profile's whole consent afterwards. It enters the event log as an
    /// identify call from the admin API (source 0) setting the `consent` trait, so rules (`trait.consent.sms`),
    /// the profile's history and a rebuild all see it like consent sent by a client.
    public func setConsent(_ purposes: [String: Bool], of profile: ProfileID, now: EpochMillis) throws -> JSONObject {
        let identifier = try pool.read { db in
            try Row.fetchOne(db, sql: """
                SELECT i.type, i.value FROM profiles p JOIN identifiers i ON i.profile_id = coalesce(p.merged_into, p.id)
                WHERE p.id = ? ORDER BY i.type, i.value LIMIT 1
                """, arguments: [profile.rawValue]).map { Identifier($0[0], $0[1]) }
        }
        guard let identifier else { throw StoreError.notFound("profile \(profile)") }
        var consent = JSONObject()
        _ = try ingest { db in
            consent = try String.fetchOne(db, sql: """
                SELECT value FROM (\(TraitLog.currentSQL(of: "(SELECT coalesce(merged_into, id) FROM profiles WHERE id = ?1)",
                                                         key: "consent")))
                """, arguments: [profile.rawValue]).flatMap { (try? JSONParser.parse($0))?.objectValue } ?? JSONObject()
            for (purpose, granted) in purposes.sorted(by: { $0.key < $1.key }) { consent[purpose] = .bool(granted) }
            let traits: JSONObject = ["consent": .object(consent)]
            let payload: JSONObject = [
                "type": "identify", "traits": .object(traits), "context": ["library": ["name": "tagflow-admin-api"]],
            ]
            let event = Event(messageId: "consent-\(UUID().uuidString)", type: .identify, timestamp: now, receivedAt: now,
                              identifiers: [identifier], traits: traits, payload: payload)
            return [IngestSubmission(sourceID: 0, receivedAt: now, events: [event])]
        }
        return consent
    }

    /// Whether a consent value says no: `false`, `0`, or text such as "no", "false", "withdrawn", "否".
    static func says(no value: JSONValue?) -> Bool {
        switch value {
        case .bool(false)?: true
        case .int(0)?: true
        case .double(0)?: true
        case .string(let text)?: ["false", "no", "0", "withdrawn", "denied", "revoked", "否", "拒绝"].contains(text.lowercased())
        default: false
        }
    }
}
