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
                JOIN traits t ON t.profile_id = coalesce(p.merged_into, p.id) AND t.key = 'consent'
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
    /// merged), as of `now`; returns the profile's whole consent afterwards.
    public func setConsent(_ purposes: [String: Bool], of profile: ProfileID, now: EpochMillis) throws -> JSONObject {
        try pool.write { db in
            guard let live = try Int64.fetchOne(db, sql: "SELECT coalesce(merged_into, id) FROM profiles WHERE id = ?",
                                                arguments: [profile.rawValue]) else {
                throw StoreError.notFound("profile \(profile)")
            }
            var consent = (try String.fetchOne(db, sql: "SELECT value FROM traits WHERE profile_id = ? AND key = 'consent'",
                                               arguments: [live])).flatMap { (try? JSONParser.parse($0))?.objectValue } ?? JSONObject()
            for (purpose, granted) in purposes.sorted(by: { $0.key < $1.key }) { consent[purpose] = .bool(granted) }
            try db.execute(sql: """
                INSERT INTO traits(profile_id, key, value, at) VALUES (?, 'consent', ?, ?)
                ON CONFLICT(profile_id, key) DO UPDATE SET value = excluded.value, at = max(traits.at, excluded.at)
                """, arguments: [live, JSONValue.object(consent).jsonString, now])
            return consent
        }
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
