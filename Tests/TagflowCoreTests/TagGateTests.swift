import Testing
@testable import TagflowCore

/// Tags whose condition asks a figure (a count, a sum, a maximum, a number of sessions, `exists`) to reach a
/// bound, or another tag to hold, are not evaluated while it cannot (``TagGates``); these scenarios pin
/// that they still change exactly when they should.
@Suite struct TagGateTests {
    typealias S = ClinicScenario

    @Test func aTagBelowItsBoundIsNotEvaluatedUntilTheEventThatReachesIt() throws {
        // Given a tag asking for five views in a week, and nothing else reading those views.
        var clinic = try S(rules: """
            tag busy
              when count(view_item) in last 7 days >= 5 and not exists(pay_order)
            """)

        // When four views come, the rule is not read; at the fifth it is, and the tag comes.
        for _ in 1...4 { clinic.event("view_item") }
        let evaluationsBelow = clinic.engine.tagEvaluations
        clinic.event("view_item")

        #expect(!clinic.changes.dropLast().contains { $0.tag == "busy" })
        #expect(clinic.has("busy"))
        #expect(clinic.engine.tagEvaluations == evaluationsBelow + 1)
    }

    @Test func aWindowBelowItsBoundStillLetsItsOldEventsGo() throws {
        // Given a tag asking for five events in a calendar week, and one event a week for ten weeks.
        var clinic = try S(rules: """
            tag busy_week
              when count(any) this week >= 5
            """)
        for _ in 1...10 {
            clinic.event("page")
            clinic.wait(7 * S.day)
        }
        clinic.event("page")

        // Then the tag never came, and the profile keeps only this week's event.
        #expect(!clinic.changes.contains { $0.tag == "busy_week" })
        #expect(clinic.engine.holdings["shared_events"] == 1)
    }

    @Test func aLongWindowDoesNotHoldOnToTheEventsShortOnesLetGo() throws {
        // Given a payment counted for 60 days and views counted for a day, one payment, then a view a day.
        var clinic = try S(rules: """
            tag lapsed
              when exists(pay_order) between 60 and 30 days ago
            tag binge
              when count(view_item) in last 1 days >= 100
            """)
        clinic.event("pay_order")
        for _ in 1...40 {
            clinic.wait(S.day)
            clinic.event("view_item")
        }

        // Then the payment has entered its window, and of forty views the profile keeps a few: those no
        // feature counts any more are forgotten once a quarter more (four at least) are kept than last time.
        #expect(clinic.has("lapsed"))
        #expect((clinic.engine.holdings["shared_events"] ?? 0) <= 6)
    }

    @Test func aLateEventJoiningTwoSessionsTakesAwayATagCountingThem() throws {
        // Given two visits 50 minutes apart: two sessions.
        var clinic = try S(rules: """
            tag returning
              when sessions in last 7 days >= 2
            """)
        clinic.event("page")
        clinic.wait(50 * S.minute)
        clinic.event("page")
        #expect(clinic.has("returning"))

        // When an event from between them arrives late, there is one session: the tag goes.
        clinic.event("page", ago: 25 * S.minute)

        #expect(!clinic.has("returning"))
        #expect(clinic.lastChange(of: "returning")?.cause == .event(seq: 3))
    }

    @Test func aNegativeAmountLeavingTheWindowRaisesTheSumAndGivesTheTag() throws {
        // Given a refund of 50 and, an hour later, a payment of 120: 70 in the last day.
        var clinic = try S(rules: """
            tag big_spender
              when sum(pay_order.amount) in last 1 days >= 100
            """)
        clinic.event("pay_order", ["amount": -50])
        clinic.wait(S.hour)
        clinic.event("pay_order", ["amount": 120])
        #expect(!clinic.has("big_spender"))

        // When the refund leaves the window, the sum is 120: the tag comes, by time alone.
        clinic.wait(23 * S.hour)

        #expect(clinic.has("big_spender"))
        #expect(clinic.lastChange(of: "big_spender")?.cause == .time)
    }

    @Test func aMaximumBelowItsBoundGivesTheTagOnlyWhenALargerAmountComes() throws {
        var clinic = try S(rules: """
            tag long_view
              when max(view_item.dwell_seconds) in last 1 days > 100
            """)

        clinic.event("view_item", ["dwell_seconds": 150])
        #expect(clinic.has("long_view"))
        clinic.wait(S.day)
        #expect(!clinic.has("long_view"))

        clinic.event("view_item", ["dwell_seconds": 50])
        clinic.event("view_item", ["dwell_seconds": "not a number"])
        #expect(!clinic.has("long_view"))
        clinic.event("view_item", ["dwell_seconds": 101])
        #expect(clinic.has("long_view"))
    }

    /// What a tag the profile does not have reads as: false for a boolean tag, null for a valued one.
    @Test(arguments: [
        (paying: "tag paying\n  when exists(pay_order)\n", asksAbsent: "tag.paying = false"),
        (paying: "tag paying\n  case \"gold\" when exists(pay_order)\n", asksAbsent: "tag.paying is null"),
    ])
    func aTagAskingAnotherToBeAbsentHoldsWhileTheProfileDoesNotHaveIt(paying: String, asksAbsent: String) throws {
        var clinic = try S(rules: paying + "tag browsing_prospect\n  when \(asksAbsent) and exists(view_item)\n")

        clinic.event("view_item")
        #expect(clinic.has("browsing_prospect"))

        clinic.event("pay_order")
        #expect(!clinic.has("browsing_prospect"))
    }

    @Test func aTagWhoseExistsIsFalseStaysAwayWhateverTheOtherConditionSays() throws {
        // Given a tag asking for a payment and a viewed project.
        var clinic = try S(rules: """
            tag paying_viewer
              when exists(pay_order) and count(view_item per project) in last 3 days >= 2
            """)

        // When views of one project come but no payment: no tag. When the payment comes: the tag.
        clinic.event("view_item", ["project": "玻尿酸"])
        clinic.event("view_item", ["project": "玻尿酸"])
        #expect(!clinic.has("paying_viewer"))
        clinic.event("pay_order")
        #expect(clinic.has("paying_viewer"))

        // Then it leaves when the views leave their window.
        clinic.wait(3 * S.day)
        #expect(!clinic.has("paying_viewer"))
    }
}
