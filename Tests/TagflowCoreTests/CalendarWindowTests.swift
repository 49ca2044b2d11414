import Testing
@testable import TagflowCore

/// Calendar windows follow the workspace's local calendar where days are not all 24 hours long: a `today`
/// or `this week` tag leaves at the local midnight that ends its period, on the day the clocks go forward
/// too. (New York, 2026-03-08: 02:00 EST became 03:00 EDT, a day of 23 hours.)
@Suite struct CalendarWindowTests {
    let newYork = WorkspaceCalendar(identifier: "America/New_York")!

    func moment(_ text: String) -> EpochMillis { Timestamp.parse(text)! }

    @Test func aDayWindowEndsAtEachLocalMidnightAcrossTheClockChange() throws {
        // Given tags on today's events and this week's, in New York.
        let tagSet = try RuleCompiler.compileOrThrow([RuleSource(text: """
            tag active_today
              when exists(any) today
            tag busy_week
              when count(any) this week >= 2
            """)])
        let engine = TagEngine(tagSet: tagSet, calendar: newYork, now: moment("2026-03-06T12:00:00-05:00"))
        var changes = TagChanges()
        func event(_ seq: Int64, at text: String) {
            let at = moment(text)
            engine.advance(to: at, changes: &changes)
            engine.apply(RuleEvent(seq: seq, name: "page", timestamp: at), to: ProfileID(1), now: at, changes: &changes)
        }
        func leaves(_ tag: String) -> [EpochMillis] {
            changes.filter { $0.tag == tag && $0.new == nil }.map(\.at)
        }

        // When a visit comes on the Saturday before the change, on the short Sunday, and on Monday.
        event(1, at: "2026-03-07T10:00:00-05:00")
        event(2, at: "2026-03-08T10:00:00-04:00")
        event(3, at: "2026-03-09T10:00:00-04:00")
        engine.advance(to: moment("2026-03-20T00:00:00-04:00"), changes: &changes)

        // Then today's tag left at each local midnight: 05:00 UTC before the change, 04:00 UTC after it.
        #expect(leaves("active_today") == [
            moment("2026-03-08T00:00:00-05:00"), moment("2026-03-09T00:00:00-04:00"), moment("2026-03-10T00:00:00-04:00"),
        ])
        // And the week's (weeks start on Monday): two visits in the week of the change, which ended at
        // Monday's local midnight; Monday's visit alone is not two.
        #expect(changes.filter { $0.tag == "busy_week" && $0.new != nil }.map(\.at) == [moment("2026-03-08T10:00:00-04:00")])
        #expect(leaves("busy_week") == [moment("2026-03-09T00:00:00-04:00")])
    }
}
