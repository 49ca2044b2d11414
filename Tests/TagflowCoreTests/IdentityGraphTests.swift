import Testing

@testable import TagflowCore

@Suite struct IdentityGraphTests {
    let anon1 = Identifier("anonymous_id", "a1")
    let anon2 = Identifier("anonymous_id", "a2")
    let user1 = Identifier("user_id", "u1")
    let user2 = Identifier("user_id", "u2")
    let phone = Identifier("phone", "13800138000")
    let device = Identifier("device_id", "d1")

    @Test func anonymousVisitorThenIdentifyStaysOneProfile() {
        var graph = IdentityGraph()
        let visit = graph.resolve([anon1])

        let login = graph.resolve([user1, anon1])

        #expect(visit.created)
        #expect(login.profile == visit.profile)
        #expect(!login.created)
        #expect(login.linked == [user1])
        #expect(login.merges.isEmpty)
        #expect(graph.profile(of: user1) == visit.profile)
    }

    @Test func twoDevicesOfOnePersonMergeWhenTheyMeet() {
        var graph = IdentityGraph()
        let web = graph.resolve([user1, anon1]).profile
        let app = graph.resolve([anon2, device]).profile
        #expect(web != app)

        let identify = graph.resolve([user1, anon2])

        #expect(identify.profile == web)
        #expect(identify.merges == [ProfileMerge(loser: app, survivor: web, via: anon2)])
        #expect(graph.profile(of: device) == web)
        #expect(Set(graph.identifiers(of: web)) == [user1, anon1, anon2, device])
        #expect(graph.identifiers(of: app).isEmpty)
    }

    @Test func aMergeChainEndsInOneProfile() {
        var graph = IdentityGraph()
        let p1 = graph.resolve([anon1]).profile
        let p2 = graph.resolve([anon2]).profile
        let p3 = graph.resolve([device]).profile
        let p4 = graph.resolve([phone]).profile

        _ = graph.resolve([anon1, anon2])
        _ = graph.resolve([device, phone])
        let last = graph.resolve([user1, anon2, phone])

        #expect(Set([p1, p2, p3, p4]).count == 4)
        let survivor = last.profile
        for identifier in [anon1, anon2, device, phone, user1] {
            #expect(graph.profile(of: identifier) == survivor)
        }
        #expect(graph.profileCount == 1)
    }

    @Test func aSecondUserIdDoesNotMergeAndTheRefusalSaysWhy() {
        // Given a shared device: u1 logged in on it, then u2 logs in on the same browser.
        var graph = IdentityGraph()
        let first = graph.resolve([user1, anon1]).profile

        let second = graph.resolve([user2, anon1])

        #expect(second.profile != first)
        #expect(second.created)
        #expect(second.merges.isEmpty)
        #expect(second.refusals.count == 1)
        #expect(second.refusals.first?.other == first)
        #expect(second.refusals.first?.reason.contains("user_id") == true)
        #expect(graph.profile(of: anon1) == first)
        #expect(graph.profile(of: user2) == second.profile)
    }

    @Test func anIdentifierThatWouldBreakALimitIsNotLinked() {
        var graph = IdentityGraph()
        let profile = graph.resolve([user1, phone]).profile

        // A phone-only event, then a user id that conflicts arrives with the phone.
        let event = graph.resolve([phone, Identifier("email", "x@y.cn")])
        #expect(event.profile == profile)

        let conflicting = graph.resolve([user2, phone])
        #expect(conflicting.profile != profile)
        #expect(!conflicting.refusals.isEmpty)
    }

    @Test func aliasPreviousIdIsAKnownUserIdElseAnAnonymousId() {
        var graph = IdentityGraph()
        _ = graph.resolve([user1])
        #expect(graph.aliasIdentifier("u1") == user1)
        #expect(graph.aliasIdentifier("old-cookie") == Identifier("anonymous_id", "old-cookie"))
    }

    @Test func customLimitsAndPrioritiesApply() {
        var policy = IdentityPolicy.standard
        policy.limits["phone"] = 1
        var graph = IdentityGraph(policy: policy)
        let a = graph.resolve([phone, anon1]).profile
        let b = graph.resolve([Identifier("phone", "13900139000"), anon2]).profile

        let joined = graph.resolve([anon1, anon2])

        #expect(a != b)
        #expect(joined.merges.isEmpty)
        #expect(joined.refusals.count == 1)
    }

    /// Random streams of events keep the graph consistent: every identifier has one owner, the owner's
    /// member list holds it, no profile exceeds a limit, and resolving an event leaves all its linkable
    /// identifiers on the event's profile.
    @Test func randomEventStreamsKeepTheGraphConsistent() {
        var random = TestRandom(seed: 99)
        for _ in 0..<60 {
            var graph = IdentityGraph()
            var everything: Set<Identifier> = []
            for _ in 0..<80 {
                var candidates: [Identifier] = []
                for _ in 0..<(1 + random.int(3)) {
                    let type = ["user_id", "anonymous_id", "phone", "device_id"][random.int(4)]
                    candidates.append(Identifier(type, "\(random.int(12))"))
                }
                let resolution = graph.resolve(candidates)
                for identifier in candidates {
                    let owner = graph.profile(of: identifier)
                    // Only an identifier refused outright (it would break a limit wherever it went) stays unlinked.
                    let refusedOutright = resolution.refusals.contains { $0.identifier == identifier && $0.other == nil }
                    #expect(owner != nil || refusedOutright)
                    if owner != nil { everything.insert(identifier) }
                    let refused = resolution.refusals.contains { $0.identifier == identifier || $0.other == owner }
                    if !refused {
                        #expect(owner == resolution.profile, "\(candidates) → \(resolution)")
                    }
                }
                for merge in resolution.merges {
                    #expect(graph.identifiers(of: merge.loser).isEmpty)
                }
            }
            for identifier in everything {
                guard let owner = graph.profile(of: identifier) else {
                    Issue.record("\(identifier) has no owner")
                    continue
                }
                let members = graph.identifiers(of: owner)
                #expect(members.contains(identifier))
                #expect(members.filter { $0.type == "user_id" }.count <= 1)
            }
        }
    }
}
