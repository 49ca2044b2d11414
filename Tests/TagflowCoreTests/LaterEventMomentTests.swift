import Testing
@testable import TagflowCore

/// Events that only raise figures — another visit, another payment — and the moments that follow: a stage
/// or a tag moves when the latest of them says, not an earlier one.
@Suite struct LaterEventMomentTests {
    typealias S = ClinicScenario

    static let lifecycle = """
        tag stage
          case "churned" when days_since(last_time(any)) >= 30
          case "dormant" when days_since(last_time(any)) >= 7
          case "active" when sessions in last 7 days >= 2
          else "new"
        """

    @Test func anActiveProfilesNextVisitPutsOffItsStagesMoments() throws {
        // Given a profile active after two visits an hour apart (two sessions in a week).
        var clinic = try S(rules: Self.lifecycle)
        let first = clinic.now
        clinic.event("page")
        clinic.wait(S.hour)
        clinic.event("page")
        #expect(clinic.tag("stage") == .string("active"))

        // When it visits again a day later.
        clinic.wait(S.day - S.hour)
        let third = clinic.now
        clinic.event("page")

        // Then it stays active when the first visit leaves the week, turns new when the second does, and
        // dormant a week after the third.
        clinic.wait(until: first + 7 * S.day + S.minute)
        #expect(clinic.tag("stage") == .string("active"))
        clinic.wait(until: first + S.hour + 7 * S.day)
        #expect(clinic.tag("stage") == .string("new"))
        clinic.wait(until: third + 7 * S.day)
        #expect(clinic.tag("stage") == .string("dormant"))
        #expect(clinic.lastChange(of: "stage")?.at == third + 7 * S.day)
    }

    @Test func aNewProfilesSecondSessionMakesItActive() throws {
        // Given a profile with one visit: new.
        var clinic = try S(rules: Self.lifecycle)
        clinic.event("page")
        #expect(clinic.tag("stage") == .string("new"))

        // When a second session begins, it is active.
        clinic.wait(2 * S.hour)
        clinic.event("page")

        #expect(clinic.tag("stage") == .string("active"))
    }

    @Test func aValueTwoCasesGiveMovesOnWhenAnEarlierCaseComesToHold() throws {
        // Given a tag whose first and third cases give the same value, held through the third.
        var clinic = try S(rules: """
            tag level
              case "a" when count(view_item) >= 2
              case "b" when exists(pay_order)
              case "a" when exists(add_cart)
            """)
        clinic.event("add_cart")
        #expect(clinic.tag("level") == .string("a"))

        // When a payment comes, the second case holds: "a" was the third case's, not the first's.
        clinic.event("pay_order")

        #expect(clinic.tag("level") == .string("b"))
    }

    @Test func aTagAPaymentHoldsBackComesAWeekAfterTheLastPayment() throws {
        // Given a tag for recent visitors with no payment in a week, and a visitor who paid.
        var clinic = try S(rules: """
            tag unpaid
              when exists(view_item) in last 30 days and not exists(pay_order) in last 7 days
            """)
        clinic.event("pay_order")
        clinic.wait(S.hour)
        clinic.event("view_item")
        #expect(!clinic.has("unpaid"))

        // When the visitor pays again a day later.
        clinic.wait(S.day - S.hour)
        let secondPayment = clinic.now
        clinic.event("pay_order")

        // Then the tag comes a week after the second payment, not the first.
        clinic.wait(7 * S.day - S.minute)
        #expect(!clinic.has("unpaid"))
        clinic.wait(S.minute)
        #expect(clinic.has("unpaid"))
        #expect(clinic.lastChange(of: "unpaid")?.at == secondPayment + 7 * S.day)
    }

    @Test func aLargestFigureFromNothingMeetsAnUpperBound() throws {
        // Given a tag asking for a largest dwell below 50 (null before any view: false).
        var clinic = try S(rules: """
            tag brief
              when max(view_item.dwell) in last 1 days < 50
            """)

        // When the first view comes, with a dwell of 10, the tag comes.
        clinic.event("view_item", ["dwell": .int(10)])

        #expect(clinic.has("brief"))
    }
}
