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
}
