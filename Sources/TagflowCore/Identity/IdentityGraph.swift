/// What resolving one event's identifiers did to the identity graph.
public struct Resolution: Sendable, Equatable {
    /// The profile the event belongs to.
    public var profile: ProfileID
    /// The profile was created for this event.
    public var created: Bool
    /// Identifiers newly attached to `profile`.
    public var linked: [Identifier]
    /// Profiles folded into another, in the order they happened.
    public var merges: [ProfileMerge]
    /// Links and merges the policy refused.
    public var refusals: [RefusedLink]
}

/// Two profiles turned out to be one person: `loser` was folded into `survivor`.
public struct ProfileMerge: Sendable, Equatable {
    public var loser: ProfileID
    public var survivor: ProfileID
    /// The identifier the event shared with `loser`.
    public var via: Identifier
}

/// A link the policy refused, and why.
public struct RefusedLink: Sendable, Equatable {
    /// The profile the event went to.
    public var profile: ProfileID
    /// The profile that would have been merged into it, when the refusal was a merge.
    public var other: ProfileID?
    public var identifier: Identifier
    public var reason: String
}

/// OneID: which profile each identifier belongs to, and the rules by which events link and merge them.
///
/// Pure and deterministic: the store loads it at start, feeds it events in log order, and writes down
/// what each `resolve` did.
public struct IdentityGraph: Sendable {
    public let policy: IdentityPolicy
    private var owners: [Identifier: ProfileID] = [:]
    private var members: [ProfileID: [Identifier]] = [:]
    /// The number the next new profile gets.
    public private(set) var nextProfileID: Int64

    public init(policy: IdentityPolicy = .standard, nextProfileID: Int64 = 1) {
        self.policy = policy
        self.nextProfileID = nextProfileID
    }

    /// Records a link read back from storage.
    public mutating func restore(_ identifier: Identifier, of profile: ProfileID) {
        owners[identifier] = profile
        members[profile, default: []].append(identifier)
        nextProfileID = max(nextProfileID, profile.rawValue + 1)
    }

    /// Makes sure profile numbers continue after `profile` (a profile that exists without identifiers).
    public mutating func reserve(upTo profile: ProfileID) {
        nextProfileID = max(nextProfileID, profile.rawValue + 1)
    }

    public func profile(of identifier: Identifier) -> ProfileID? { owners[identifier] }

    public func identifiers(of profile: ProfileID) -> [Identifier] { members[profile] ?? [] }

    public var profileCount: Int { members.count }

    /// The identifier an alias's `previousId` names: a known user id, else a known anonymous id, else
    /// taken as an anonymous id.
    public func aliasIdentifier(_ previousId: String) -> Identifier {
        let asUser = Identifier(Identifier.userID, previousId)
        if owners[asUser] != nil { return asUser }
        return Identifier(Identifier.anonymousID, previousId)
    }

    /// Finds or creates the profile of an event carrying `identifiers`, linking and merging as the
    /// policy allows.
    public mutating func resolve(_ candidates: [Identifier]) -> Resolution {
        // The common case: every identifier is already known and on one profile; nothing to link or merge.
        if let first = candidates.first, let owner = owners[first], candidates.dropFirst().allSatisfy({ owners[$0] == owner }) {
            return Resolution(profile: owner, created: false, linked: [], merges: [], refusals: [])
        }
        var ordered: [Identifier] = []
        for identifier in candidates where !ordered.contains(identifier) { ordered.append(identifier) }
        ordered = ordered.enumerated().sorted {
            let (pa, pb) = (policy.priority(of: $0.element.type), policy.priority(of: $1.element.type))
            return pa != pb ? pa > pb : $0.offset < $1.offset
        }.map(\.element)

        var target: ProfileID?
        var created = false
        var pending: [Identifier] = []
        var linked: [Identifier] = []
        var merges: [ProfileMerge] = []
        var refusals: [RefusedLink] = []

        func materialise() -> ProfileID {
            if let target { return target }
            let profile = ProfileID(nextProfileID)
            nextProfileID += 1
            members[profile] = []
            created = true
            attach(pending, to: profile)
            linked += pending
            pending = []
            target = profile
            return profile
        }

        for identifier in ordered {
            if let owner = owners[identifier] {
                if target == nil {
                    if let conflict = conflict(adding: pending, to: identifiers(of: owner)) {
                        let fresh = materialise()
                        refusals.append(RefusedLink(profile: fresh, other: owner, identifier: identifier, reason: conflict))
                    } else {
                        attach(pending, to: owner)
                        linked += pending
                        pending = []
                        target = owner
                    }
                } else if let current = target, owner != current {
                    if let conflict = conflict(adding: identifiers(of: owner), to: identifiers(of: current)) {
                        refusals.append(RefusedLink(profile: current, other: owner, identifier: identifier, reason: conflict))
                    } else {
                        attach(identifiers(of: owner), to: current)
                        members[owner] = nil
                        merges.append(ProfileMerge(loser: owner, survivor: current, via: identifier))
                    }
                }
            } else if let current = target {
                if let conflict = conflict(adding: [identifier], to: identifiers(of: current)) {
                    refusals.append(RefusedLink(profile: current, other: nil, identifier: identifier, reason: conflict))
                } else {
                    attach([identifier], to: current)
                    linked.append(identifier)
                }
            } else if let conflict = conflict(adding: [identifier], to: pending) {
                refusals.append(RefusedLink(profile: ProfileID(0), other: nil, identifier: identifier, reason: conflict))
            } else {
                pending.append(identifier)
            }
        }
        let profile = materialise()
        for index in refusals.indices where refusals[index].profile == ProfileID(0) {
            refusals[index].profile = profile
        }
        return Resolution(profile: profile, created: created, linked: linked, merges: merges, refusals: refusals)
    }

    private mutating func attach(_ identifiers: [Identifier], to profile: ProfileID) {
        for identifier in identifiers {
            owners[identifier] = profile
            members[profile, default: []].append(identifier)
        }
    }

    /// Why `adding` cannot join `existing`, or nil when the limits allow it.
    private func conflict(adding: [Identifier], to existing: [Identifier]) -> String? {
        // Most types have no limit (the anonymous id of a new profile): nothing to count.
        guard adding.contains(where: { policy.limit(of: $0.type) != Int.max }) else { return nil }
        for type in Set(adding.map(\.type)) {
            let limit = policy.limit(of: type)
            guard limit != Int.max else { continue }
            let values = Set(existing.filter { $0.type == type }.map(\.value))
            let union = values.union(adding.filter { $0.type == type }.map(\.value))
            if union.count > limit {
                let held = values.sorted().joined(separator: ", ")
                return "a profile may hold at most \(limit) \(type); it already has \(held)"
            }
        }
        return nil
    }
}
