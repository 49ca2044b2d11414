import Testing
@testable import TagflowCore

/// What completes an ordered sequence: the steps' order, the events that match more than one step, and the
/// `within` limit to the millisecond, in given / when / then form.
@Suite struct SequenceTests {
    typealias S = ClinicScenario

    @Test func oneEventMatchingTwoStepsIsNotTwoSteps() throws {
        // Given a sequence of two steps that one view matches both of.
        var clinic = try S(rules: "tag viewed_twice\n  when sequence(view_item -> view_item) in last 7 days\n")

        // When one view comes, then the sequence is not complete; when a second comes, it is.
        clinic.event("view_item")
        #expect(!clinic.has("viewed_twice"))
        clinic.wait(S.minute)
        clinic.event("view_item")
        #expect(clinic.has("viewed_twice"))
    }

    @Test func anEventMatchingEveryStepCompletesOnlyWithOthers() throws {
        // Given three steps, the middle one any event: a payment matches the last two.
        var clinic = try S(rules: "tag journey\n  when sequence(view_item -> any -> pay_order) in last 7 days\n")

        clinic.event("view_item")
        clinic.wait(S.minute)
        clinic.event("pay_order")
        #expect(!clinic.has("journey"))  // the payment cannot be both `any` and `pay_order`

        clinic.wait(S.minute)
        clinic.event("pay_order")
        #expect(clinic.has("journey"))
    }

    @Test func aViewerWhoNeverBuysKeepsAWindowOfStepsAndNoMore() throws {
        // Given a sequence over a week, and a profile that views every day for two months and never pays.
        var clinic = try S(rules: "tag converted\n  when sequence(view_item -> pay_order) in last 7 days\n")
        for _ in 1...60 {
            clinic.event("view_item")
            clinic.wait(S.day)
        }

        // Then it never had the tag, and it keeps the steps of the last week only.
        #expect(!clinic.changes.contains { $0.tag == "converted" })
        #expect((clinic.engine.holdings["step_list_entries"] ?? 0) <= 8)

        // And a payment still completes the sequence with the views of the week.
        clinic.event("pay_order")
        #expect(clinic.has("converted"))
    }

    @Test func withinHoldsToTheMillisecond() throws {
        let rules = "tag quick\n  when sequence(view_item -> pay_order within 1 hours) in last 7 days\n"
        // Given a view, when the payment comes exactly an hour later, then the sequence is complete.
        var onTime = try S(rules: rules)
        onTime.event("view_item")
        onTime.wait(S.hour)
        onTime.event("pay_order")
        #expect(onTime.has("quick"))

        // When it comes a millisecond later, it is not.
        var late = try S(rules: rules)
        late.event("view_item")
        late.wait(S.hour + 1)
        late.event("pay_order")
        #expect(!late.has("quick"))
    }

    @Test func aLaterStartCanCompleteWhereTheFirstCannot() throws {
        // Given a view, and another two hours later.
        var clinic = try S(rules: "tag quick\n  when sequence(view_item -> cart -> pay_order within 1 hours) in last 7 days\n")
        clinic.event("view_item")
        clinic.wait(2 * S.hour)
        clinic.event("view_item")

        // When a cart and a payment follow within the hour of the second view.
        clinic.wait(20 * S.minute)
        clinic.event("cart")
        clinic.wait(20 * S.minute)
        clinic.event("pay_order")

        // Then the run from the second view completes it (the first view's would take over two hours).
        #expect(clinic.has("quick"))
    }

    @Test func stepsOutOfOrderDoNotComplete() throws {
        var clinic = try S(rules: "tag quick\n  when sequence(view_item -> pay_order) in last 7 days\n")

        clinic.event("pay_order")
        clinic.wait(S.minute)
        clinic.event("view_item")

        #expect(!clinic.has("quick"))
    }
}
