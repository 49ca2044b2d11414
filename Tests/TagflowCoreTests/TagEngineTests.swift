import Testing
@testable import TagflowCore

/// How the engine treats a profile's first event and tags that refer to other tags, in given / when / then
/// form.
@Suite struct TagEngineTests {
    typealias S = ClinicScenario

    static let rules = """
        tag never_paid
          when not exists(pay_order)
        tag stage
          case "customer" when exists(pay_order)
          else "prospect"
        tag prospect_browsing
          when tag.stage = "prospect" and exists(view_item)
        tag never_paid_viewer
          when tag.never_paid and count(view_item) >= 2
        tag viewed
          when exists(view_item)
        """

    @Test func aFirstEventGivesTheTagsOfAnEmptyProfileAndThoseItMakesTrue() throws {
        var clinic = try S(rules: Self.rules)

        clinic.event("page")

        #expect(clinic.tag("never_paid") == .bool(true))
        #expect(clinic.tag("stage") == .string("prospect"))
        #expect(!clinic.has("prospect_browsing"))
        #expect(!clinic.has("viewed"))
        #expect(clinic.changes.map(\.tag) == ["never_paid", "stage"])
        #expect(clinic.changes.allSatisfy { $0.old == nil && $0.cause == .event(seq: 1) })
    }

    @Test func anIdentifyCallsTraitsReadAsItsPropertiesAndItsOwnPropertiesComeFirst() throws {
        // Given tags reading what identify calls carry: their traits, as a track call's properties are read
        var clinic = try S(rules: """
            tag identified_city
              value last(identify.city)
            tag pro_identified
              when exists(identify where plan = "pro")
            tag viewed_city
              value last(view_item.city)
            """)

        // When a profile identifies with a city and a plan, and views an item with a property of that name
        clinic.event("identify", traits: ["city": "上海", "plan": "pro"])
        clinic.event("view_item", ["city": "北京"])

        // Then the identify call's traits are read, and the track call's property
        #expect(clinic.tag("identified_city") == .string("上海"))
        #expect(clinic.has("pro_identified"))
        #expect(clinic.tag("viewed_city") == .string("北京"))
    }

    @Test func aFirstEventThatTurnsAnEmptyProfilesTagOffReportsNoChangeForIt() throws {
        var clinic = try S(rules: Self.rules)

        clinic.event("pay_order")

        #expect(!clinic.has("never_paid"))
        #expect(clinic.tag("stage") == .string("customer"))
        #expect(clinic.changes.map(\.tag) == ["stage"])
        #expect(clinic.changes.first?.old == nil)
    }

    @Test func aTagReferringToAnotherFollowsItWhenAnEventChangesIt() throws {
        var clinic = try S(rules: Self.rules)

        clinic.event("view_item")
        clinic.event("view_item")
        #expect(clinic.has("prospect_browsing"))
        #expect(clinic.has("never_paid_viewer"))

        clinic.event("pay_order")

        #expect(!clinic.has("prospect_browsing"))
        #expect(!clinic.has("never_paid_viewer"))
        #expect(clinic.lastChange(of: "never_paid_viewer")?.cause == .event(seq: 3))
    }

    @Test func aProfileCreatedByAMergeHasTheTagsOfAnEmptyProfile() throws {
        var clinic = try S(rules: Self.rules)
        clinic.event("view_item", profile: 1)

        clinic.engine.merge(ProfileID(1), into: ProfileID(2), now: clinic.now, changes: &clinic.changes)

        #expect(clinic.tag("never_paid", profile: 2) == .bool(true))
        #expect(clinic.tag("prospect_browsing", profile: 2) == .bool(true))
        #expect(clinic.engine.tags(of: ProfileID(1)).isEmpty)
    }

    @Test func explainingOneProfileLeavesNothingBehindForTheNext() throws {
        // Given a profile that viewed twice (never_paid_viewer) and one that has not viewed yet
        var clinic = try S(rules: Self.rules)
        clinic.event("view_item", profile: 1)
        clinic.event("view_item", profile: 1)
        clinic.event("page", profile: 2)

        // When the first profile's tag is explained (it reads `count(view_item)`: 2), then the second views once
        let explanation = clinic.engine.explain("never_paid_viewer", for: ProfileID(1))
        clinic.event("view_item", profile: 2)

        // Then the second profile's tags come from its own events: one view is not two
        #expect(explanation?.value == .bool(true))
        #expect(!clinic.has("never_paid_viewer", profile: 2))
        #expect(clinic.has("viewed", profile: 2))
    }
}

/// A threshold on a figure that time only lowers wakes its profile once, when it is crossed, not at every
/// event leaving the window (the bench's `long_dwell` woke at each of them); in given / when / then form.
@Suite struct ThresholdWakeTests {
    typealias S = ClinicScenario

    /// Ten events five minutes apart, then two days of waiting an hour at a time.
    static func timerFirings(_ rule: String, _ properties: (Int) -> JSONObject, leaves tag: String) throws -> (Int, TagChange?) {
        var clinic = try S(rules: "tag \(tag)\n  when \(rule)\n")
        for i in 0..<10 {
            clinic.event("view_item", properties(i))
            clinic.wait(5 * S.minute)
        }
        let before = clinic.engine.timerFirings
        for _ in 0..<48 { clinic.wait(S.hour) }
        return (clinic.engine.timerFirings - before, clinic.lastChange(of: tag))
    }

    @Test func aSumOfAmountsWakesOnceWhenItFallsBelow() throws {
        let (firings, change) = try Self.timerFirings(
            "sum(view_item.dwell) in last 1 days > 100", { ["dwell": .int(Int64($0 == 9 ? 200 : 10))] }, leaves: "long")
        #expect(firings == 1)
        #expect(change?.new == nil && change?.cause == .time)
    }

    @Test func aMaximumWakesOnceWhenItsLatestHighAmountLeaves() throws {
        let (firings, change) = try Self.timerFirings(
            "max(view_item.dwell) in last 1 days >= 50", { ["dwell": .int(Int64($0 == 3 ? 60 : 10))] }, leaves: "high")
        #expect(firings == 1)
        #expect(change?.new == nil && change?.cause == .time)
    }

    @Test func aMaximumBelowTheBoundWakesOnceWhenItBecomesNull() throws {
        let (firings, change) = try Self.timerFirings(
            "max(view_item.dwell) in last 1 days < 50", { ["dwell": .int(Int64($0))] }, leaves: "low")
        #expect(firings == 1)
        #expect(change?.new == nil && change?.cause == .time)
    }

    @Test func aSequenceNotCompletedDoesNotWakeAsItsStepsLeave() throws {
        let (firings, change) = try Self.timerFirings(
            "sequence(view_item -> pay_order) in last 1 days", { _ in [:] }, leaves: "buyer")
        #expect(firings == 0)
        #expect(change == nil)
    }

    @Test func aSumWithARefundInsideIsFollowedAsEachAmountLeaves() throws {
        // Given a refund, then two payments: 160 once the refund has left, 80 once the first payment has.
        var clinic = try S(rules: "tag paid_much\n  when sum(pay_order.amount) in last 1 days > 100\n")
        clinic.event("pay_order", ["amount": .int(-50)])
        clinic.wait(S.hour)
        clinic.event("pay_order", ["amount": .int(80)])
        let firstPayment = clinic.now
        clinic.wait(S.hour)
        clinic.event("pay_order", ["amount": .int(80)])
        #expect(clinic.has("paid_much"))

        // When two days pass, then it leaves the moment the first payment leaves the window.
        for _ in 0..<48 { clinic.wait(S.hour) }

        #expect(!clinic.has("paid_much"))
        #expect(clinic.lastChange(of: "paid_much")?.at == firstPayment + S.day)
    }
}
