import Foundation
import Testing
@testable import TagflowCore

/// Every example of the seed documents, as the example tag set writes it, in given / when / then form.
@Suite struct SeedExampleScenarioTests {
    typealias S = ClinicScenario

    @Test func exampleTagSetCompilesWithoutWarnings() throws {
        let text = try String(contentsOf: S.examplesDirectory.appendingPathComponent("medical-aesthetics.tags"), encoding: .utf8)
        let (tagSet, diagnostics) = RuleCompiler.compile([RuleSource(text: text)])
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect((tagSet?.tags.count ?? 0) >= 20)
        // Both windows on pay_order amounts over 365 days are one shared feature.
        let sums = tagSet?.features.filter { $0.description.hasPrefix("sum(pay_order.amount) in last 365 days") }
        #expect(sums?.count == 1)
    }

    @Test func viewedHyaluronicInLast7DaysLeavesAtTheExactMillisecond() throws {
        var clinic = try S()

        clinic.event("view_item", ["project": "玻尿酸"])
        let viewedAt = clinic.now

        #expect(clinic.has("viewed_hyaluronic"))
        clinic.wait(until: viewedAt + 7 * S.day - 1)
        #expect(clinic.has("viewed_hyaluronic"))
        clinic.wait(until: viewedAt + 7 * S.day)
        #expect(!clinic.has("viewed_hyaluronic"))
        #expect(clinic.lastChange(of: "viewed_hyaluronic")?.at == viewedAt + 7 * S.day)
        #expect(clinic.lastChange(of: "viewed_hyaluronic")?.cause == .time)
    }

    @Test func highIntentHyaluronicNeedsThreeViewsInThreeDays() throws {
        var clinic = try S()

        clinic.event("view_item", ["project": "玻尿酸"])
        clinic.wait(S.day)
        clinic.event("view_item", ["project": "玻尿酸"])
        clinic.event("view_item", ["project": "热玛吉"])
        #expect(!clinic.has("high_intent_hyaluronic"))
        clinic.wait(S.day)
        clinic.event("view_item", ["project": "玻尿酸"])

        #expect(clinic.has("high_intent_hyaluronic"))
        clinic.wait(S.day)  // the first view is now exactly 3 days old
        #expect(!clinic.has("high_intent_hyaluronic"))
    }

    @Test func lateViewsAreFoldedInByTheirOwnTime() throws {
        var clinic = try S()

        clinic.event("view_item", ["project": "玻尿酸"])
        clinic.event("view_item", ["project": "玻尿酸"], ago: 2 * S.day)
        clinic.event("view_item", ["project": "玻尿酸"], ago: 5 * S.day)  // outside the 3 days: ignored

        #expect(!clinic.has("high_intent_hyaluronic"))
        clinic.event("view_item", ["project": "玻尿酸"], ago: S.hour)
        #expect(clinic.has("high_intent_hyaluronic"))
        clinic.wait(S.day)  // the one from 2 days ago leaves
        #expect(!clinic.has("high_intent_hyaluronic"))
    }

    @Test func highValueThermageNeedsMoreThanTwoVisitsAndAMinuteOfDwell() throws {
        var clinic = try S()

        for seconds in [10, 20, 25] { clinic.event("view_item", ["project": "热玛吉", "dwell_seconds": .int(Int64(seconds))]) }
        #expect(!clinic.has("high_value_thermage"))  // 55 seconds
        clinic.event("view_item", ["project": "热玛吉", "dwell_seconds": "8"])  // numbers sent as text count

        #expect(clinic.has("high_value_thermage"))
    }

    @Test func theSameProjectViewedThreeTimesIsFocusAndTheMostViewedIsTheFavourite() throws {
        var clinic = try S()

        clinic.event("view_item", ["project": "水光针"])
        clinic.event("view_item", ["project": "玻尿酸"])
        clinic.event("view_item", ["project": "热玛吉"])
        #expect(!clinic.has("focused_project"))
        clinic.event("view_item", ["project": "水光针"])
        clinic.event("view_item", ["project": "水光针"])

        #expect(clinic.has("focused_project"))
        #expect(clinic.tag("favourite_project") == .string("水光针"))
    }

    @Test func consultedSeveralTimesOrClickedBookSeveralTimes() throws {
        var consulting = try S()
        consulting.event("consult")
        consulting.event("consult")
        #expect(consulting.has("consult_intent"))

        var clicking = try S()
        clicking.event("click_book", ["button": "立即预约"])
        clicking.event("click_book", ["button": "了解更多"])
        #expect(!clicking.has("consult_intent"))
        clicking.event("click_book", ["button": "立即预约"])
        #expect(clicking.has("consult_intent"))
    }

    @Test func paidInTheLast30Days() throws {
        var clinic = try S()

        clinic.event("pay_order", ["amount": 3980])

        #expect(clinic.has("paid_30d"))
        clinic.wait(30 * S.day)
        #expect(!clinic.has("paid_30d"))
    }

    @Test func threeVisitsAndMoreThanTwoFavouritesInAWeek() throws {
        var clinic = try S()

        clinic.event("favorite_item", ["project": "玻尿酸"])
        clinic.wait(S.hour)  // over 30 minutes without an event: a new visit
        clinic.event("favorite_item", ["project": "热玛吉"])
        clinic.wait(5 * S.minute)
        clinic.event("favorite_item", ["project": "水光针"])
        #expect(!clinic.has("active_collector"))  // three favourites, but two visits
        clinic.wait(S.hour)

        clinic.event("page")

        #expect(clinic.has("active_collector"))
    }

    @Test func firstVisitWithoutFormIsNewThenConsultedButNotPaid() throws {
        var clinic = try S()

        clinic.event("page")
        clinic.event("view_item", ["project": "玻尿酸"])
        #expect(clinic.has("new_visitor"))
        clinic.event("submit_form", ["form": "咨询表单"])

        #expect(!clinic.has("new_visitor"))
        #expect(clinic.has("consulted_not_paid"))
        clinic.event("pay_order", ["amount": 3980])
        #expect(!clinic.has("consulted_not_paid"))
    }

    @Test func searchedCheckupRepeatedlyWithoutOrdering() throws {
        var clinic = try S()

        clinic.event("search", ["keyword": "体检套餐价格"])
        clinic.event("search", ["keyword": "入职体检套餐"])
        #expect(clinic.has("high_intent_checkup"))
        clinic.event("pay_order", ["project": "体检套餐", "amount": 1999])

        #expect(!clinic.has("high_intent_checkup"))
    }

    @Test func viewBookAndPayWithinOneDayIsAQuickConversion() throws {
        var slow = try S()
        slow.event("view_item", ["project": "玻尿酸"])
        slow.wait(S.hour)
        slow.event("book_appointment")
        slow.wait(2 * S.day)
        slow.event("pay_order", ["amount": 3980])
        #expect(!slow.has("quick_converter"))

        var quick = try S()
        quick.event("pay_order", ["amount": 3980])  // a payment before the view does not count
        quick.event("view_item", ["project": "玻尿酸"])
        quick.wait(S.hour)
        quick.event("book_appointment")
        #expect(!quick.has("quick_converter"))
        quick.wait(20 * S.hour)
        quick.event("pay_order", ["amount": 3980])
        #expect(quick.has("quick_converter"))
    }

    @Test func visitedTodayEndsAtMidnightInShanghai() throws {
        var clinic = try S()

        clinic.event("page")

        #expect(clinic.has("visited_today"))
        let midnight = Timestamp.parse("2026-03-03T00:00:00+08:00") ?? 0
        clinic.wait(until: midnight - 1)
        #expect(clinic.has("visited_today"))
        clinic.wait(until: midnight)
        #expect(!clinic.has("visited_today"))
        #expect(clinic.lastChange(of: "visited_today")?.at == midnight)
    }

    @Test func frequentSkincareBuyerBigSpenderAndValueTiers() throws {
        var clinic = try S()

        #expect(clinic.tag("value_tier") == nil)
        clinic.event("page")
        #expect(clinic.tag("value_tier") == .string("未消费"))
        for _ in 0..<3 { clinic.event("pay_order", ["category": "护肤品", "amount": 298]) }
        #expect(clinic.has("frequent_skincare"))
        #expect(clinic.tag("value_tier") == .string("低价值"))
        clinic.event("pay_order", ["project": "热玛吉", "amount": 16800])
        #expect(clinic.tag("value_tier") == .string("中价值"))
        #expect(!clinic.has("big_spender"))
        clinic.wait(10 * S.day)
        clinic.event("pay_order", ["project": "玻尿酸", "amount": 3980])

        #expect(clinic.has("big_spender"))
        #expect(clinic.tag("value_tier") == .string("高价值"))
        clinic.wait(170 * S.day)  // the 热玛吉 payment is 180 days old
        #expect(!clinic.has("big_spender"))
    }

    @Test func shanghaiVIPCombinesAnotherTagWithATrait() throws {
        var clinic = try S()

        clinic.event("pay_order", ["amount": 25000])
        #expect(clinic.has("big_spender"))
        #expect(!clinic.has("shanghai_vip"))
        clinic.event("identify", traits: ["city": "上海"])

        #expect(clinic.has("shanghai_vip"))
        #expect(clinic.tag("city") == .string("上海"))
        clinic.event("identify", ago: S.day, traits: ["city": "北京"])  // older news: 上海 stays
        #expect(clinic.tag("city") == .string("上海"))
    }

    @Test func lifecycleSlidesFromActiveToDormantToChurnedAsTimePasses() throws {
        var clinic = try S()

        clinic.event("page")
        #expect(clinic.tag("lifecycle") == .string("潜客"))
        clinic.event("pay_order", ["amount": 3980])
        #expect(clinic.tag("lifecycle") == .string("新客"))
        clinic.wait(2 * S.hour)
        clinic.event("page")
        #expect(clinic.tag("lifecycle") == .string("活跃"))
        let lastSeen = clinic.now

        clinic.wait(until: lastSeen + 30 * S.day)
        #expect(clinic.tag("lifecycle") == .string("沉睡"))
        #expect(clinic.lastChange(of: "lifecycle")?.at == lastSeen + 30 * S.day)
        clinic.wait(until: lastSeen + 90 * S.day)
        #expect(clinic.tag("lifecycle") == .string("流失"))
        #expect(clinic.lastChange(of: "lifecycle")?.cause == .time)
    }

    @Test func lapsedPayerBetween30And90DaysAgo() throws {
        var clinic = try S()

        clinic.event("pay_order", ["amount": 3980])
        let paidAt = clinic.now
        #expect(!clinic.has("lapsed_payer"))

        clinic.wait(until: paidAt + 30 * S.day)
        #expect(clinic.has("lapsed_payer"))
        clinic.wait(until: paidAt + 90 * S.day)
        #expect(!clinic.has("lapsed_payer"))
    }

    @Test func firstTouchChannelComesFromTheEarliestCampaignEvenWhenItArrivesLate() throws {
        var clinic = try S()

        clinic.event("page", context: ["campaign": ["source": "wechat", "name": "朋友圈热玛吉体验"]])
        #expect(clinic.tag("first_touch_channel") == .string("wechat"))
        clinic.event("page", ago: S.day, context: ["campaign": ["source": "douyin", "name": "双11玻尿酸特惠"]])

        #expect(clinic.tag("first_touch_channel") == .string("douyin"))
        #expect(clinic.tag("first_touch_campaign") == .string("双11玻尿酸特惠"))
    }

    @Test func mobileNumberFromTheIdentifiers() throws {
        var clinic = try S()

        clinic.event("page", identifiers: [Identifier("anonymous_id", "a-1")])
        #expect(!clinic.has("has_mobile"))
        clinic.event("identify", identifiers: [Identifier("phone", "13800138000")])

        #expect(clinic.has("has_mobile"))
    }

    @Test func aMergeCombinesBothProfilesHistories() throws {
        var clinic = try S()
        clinic.event("view_item", ["project": "玻尿酸"], profile: 1)
        clinic.event("view_item", ["project": "玻尿酸"], profile: 1)
        clinic.event("view_item", ["project": "玻尿酸"], profile: 2)
        #expect(!clinic.has("high_intent_hyaluronic", profile: 1))

        clinic.engine.merge(ProfileID(2), into: ProfileID(1), now: clinic.now, changes: &clinic.changes)

        #expect(clinic.has("high_intent_hyaluronic", profile: 1))
        #expect(clinic.engine.tags(of: ProfileID(2)).isEmpty)
        #expect(clinic.changes.contains { $0.profile == ProfileID(2) && $0.tag == "viewed_hyaluronic" && $0.new == nil })
    }
}
