import Testing
@testable import TagflowCore

/// How a profile's windows keep their events: counted afresh at each read while a window counts a few, with a
/// summary of its own while it counts many; the events forgotten once every window is done with them. In
/// given / when / then form.
@Suite struct WindowKeepingTests {
    typealias S = ClinicScenario

    @Test func anEventAtTheVeryStartOfItsWindowIsStillCountedAfterAVisitAtThatMillisecond() throws {
        // Given a view, and a tag asking for a view in the last hour and a click in the last day.
        var clinic = try S(rules: """
            tag viewing_and_clicking
              when count(view_item) in last 1 hours >= 1 and count(click) in last 1 days >= 1
            """)
        let viewed = clinic.now
        clinic.event("view_item")

        // When the profile clicks twice in the last millisecond of the view's hour (each visit forgets the
        // events its windows are done with)
        clinic.wait(S.hour - 1)
        clinic.event("click")
        clinic.event("click")

        // Then the view still counts, and the tag goes when the hour is up, not before.
        #expect(clinic.has("viewing_and_clicking"))
        clinic.wait(1)
        #expect(!clinic.has("viewing_and_clicking"))
        #expect(clinic.lastChange(of: "viewing_and_clicking")?.at == viewed + S.hour)
    }

    @Test func aWindowKeepsASummaryOnlyWhileItCountsMany() throws {
        // Given a tag counting today's views, and forty views a minute apart.
        var clinic = try S(rules: """
            tag views_today
              value count(view_item) in last 1 days
            """)
        let first = clinic.now
        for minute in 0..<40 {
            clinic.wait(until: first + Int64(minute) * S.minute)
            clinic.event("view_item")
        }

        // Then the window keeps a summary of its own (over 16 events).
        #expect(clinic.tag("views_today") == .number(40))
        #expect(clinic.engine.holdings["window_summaries"] == 1)

        // When a day has passed since the 33rd: 7 are left, and the window counts them when read again.
        clinic.wait(until: first + S.day + 32 * S.minute + 30_000)
        #expect(clinic.tag("views_today") == .number(7))
        #expect(clinic.engine.holdings["window_summaries"] == 0)
        #expect(clinic.engine.holdings["shared_events"] == 7)

        // When all have left, nothing is kept, and the count went down one by one, each at its moment.
        clinic.wait(S.day)
        #expect(clinic.tag("views_today") == .number(0))
        #expect(clinic.engine.holdings["shared_events"] == 0)
        let last = clinic.changes.filter { $0.tag == "views_today" }.suffix(7)
        #expect(last.map(\.at) == (33..<40).map { first + S.day + Int64($0) * S.minute })
    }
}
