import Testing
@testable import TagflowCore

/// Rules that do not parse or check are refused with every problem at once, each with its place and,
/// where one can be guessed, a suggestion.
@Suite struct RuleCompilerTests {
    let known: Set<String> = ["view_item", "pay_order", "consult", "submit_form"]

    func errors(_ text: String) -> [RuleDiagnostic] {
        RuleCompiler.compile([RuleSource(name: "t.tags", text: text)], knownEvents: known).1.filter { $0.severity == .error }
    }

    @Test func misspeltEventIsRefusedWithItsPlaceAndASuggestion() throws {
        let problems = errors("""
            tag a "A"
              when count(veiw_item) >= 3
            """)

        let problem = try #require(problems.first)
        #expect(problems.count == 1)
        #expect((problem.line, problem.column) == (2, 14))
        #expect(problem.message == "unknown event `veiw_item`")
        #expect(problem.suggestion == "did you mean `view_item`?")
        #expect(problem.tag == "a")
        #expect(problem.description == "t.tags:2:14: error: in `a`: unknown event `veiw_item` (did you mean `view_item`?)")
    }

    @Test func segmentsAreConditionsNamedApartFromTags() throws {
        let problems = errors("""
            tag paid
              when exists(pay_order)
            segment leads "线索"
              category interest
              value tag.paid
            segment unpaid
              when not tag.again
            segment again
              when segment.paid or tag.leads
            """)

        #expect(problems.map { "\($0.line):\($0.column) \($0.message)" } == [
            "4:3 a segment is one condition: it has `when`, `description` and `owner`, not `category`",
            "5:3 a segment is one condition: it has `when`, `description` and `owner`, not `value`",
            "7:12 `again` is a segment, not a tag",
            "9:8 `paid` is a tag, not a segment",
            "9:24 `leads` is a segment, not a tag",
        ])
        #expect(problems.map(\.suggestion) == ["remove the line", "write `when <condition>`", "write `segment.again`",
                                               "write `tag.paid`", "write `segment.leads`"])
        let tagSet = try RuleCompiler.compileOrThrow([RuleSource(text: """
            tag paid
              when exists(pay_order)
            segment unpaid "未付费"
              when not tag.paid
            segment unpaid_twice
              when segment.unpaid and count(view_item) >= 2
            """)])
        #expect(tagSet.tags.map(\.isSegment) == [false, true, true])
        #expect(RuleCompiler.headers(in: "segment unpaid\n  when not tag.paid").first?.kind == "segment")
        #expect(tagSet.audiencePlan(of: "unpaid")?.tags == ["paid"])
        #expect(tagSet.audiencePlan(of: "unpaid_twice") == nil)  // reads an aggregate: only the engine keeps it
    }

    @Test func anEventNobodyHasSentYetIsOnlyAWarning() {
        let (tagSet, diagnostics) = RuleCompiler.compile(
            [RuleSource(text: "tag a\n  when exists(refund_order)")], knownEvents: known)

        #expect(tagSet != nil)
        #expect(diagnostics.map(\.severity) == [.warning])
        #expect(diagnostics.first?.message == "no `refund_order` event has been received yet")
    }

    @Test func everyProblemOfEveryTagIsReportedAtOnce() {
        let problems = errors("""
            tag a "A"
              category intrest
              when count(view_item) >= "3"

            tag b "B"
              when cnt(pay_order) > 1 and tag.aa

            tag c
              when sum(pay_order) > 100
            tag d
              when trait.city = "上海" and count(view_item where trait.vip = true) > 1
            """)

        #expect(problems.map { "\($0.line):\($0.column)" } == ["2:12", "3:25", "6:8", "6:31", "9:8", "11:52"])
        #expect(problems[0].suggestion == "did you mean `interest`?")
        #expect(problems[1].message == "`>=` compares a number with text, which is never true")
        #expect(problems[2].suggestion == "did you mean `count`?")
        #expect(problems[3].message == "unknown tag `aa`")
        #expect(problems[3].suggestion == "did you mean `tag.a`?")
        #expect(problems[4].message.contains("`sum` needs a property of the event"))
        #expect(problems[5].message.contains("inside `where`, names are properties of the event"))
    }

    @Test(arguments: [
        ("tag a\n  when count(view_item) in last 3 dayz >= 1", "2:35", "did you mean `days`?"),
        ("tag a\n  when trait.city in last 3 days", "2:19", nil),
        ("tag a\n  when count(view_item) >= 3 and (count(consult) > 1", "2:53", nil),
        ("tag a\n  when trait.name = \"open", "2:21", nil),
        ("tag a\n  when count(view_item)", "2:8", "compare it, e.g. `>= 3`"),
        ("tag a\n  when trait.city matches \"([\"", "2:27", nil),
        ("tag a \"A\"\n  category value", "1:5", nil),
        ("tag a\n  when view_item > 1", "2:8", "to count that event, write `count(view_item)`"),
        ("tag a\n  when sum(pay_order.amount) in last 6 months > 1", "2:40", "write months as days: `in last 180 days`"),
        ("tag a\n  name \"A\"\n  when exists(view_item)", "2:3",
         "a display name goes after the id, on the tag's first line: `tag <id> \"高意向-玻尿酸\"`"),
        ("tag a\n  catgory interest\n  when exists(view_item)", "2:3", "did you mean `category`?"),
    ] as [(String, String, String?)])
    func badRulesPointAtTheProblem(text: String, place: String, suggestion: String?) throws {
        let problem = try #require(errors(text).first, "no error for \(text)")
        #expect("\(problem.line):\(problem.column)" == place, "\(problem)")
        if let suggestion { #expect(problem.suggestion == suggestion, "\(problem)") }
    }

    @Test func tagsReferringToEachOtherInACircleAreRefused() {
        let problems = errors("""
            tag a
              when tag.b
            tag b
              when tag.a and exists(view_item)
            """)

        #expect(problems.contains { $0.message == "tags refer to each other in a circle: a → b → a" })
    }

    @Test func aSequenceOfMoreStepsThanTheEngineKeepsIsRefused() {
        let steps = { (n: Int) in Array(repeating: "view_item", count: n).joined(separator: " -> ") }
        let problems = errors("tag long\n  when sequence(\(steps(256)))\ntag fine\n  when sequence(\(steps(255)))\n")

        #expect(problems.map(\.message) == ["a sequence has at most 255 steps; this one has 256"])
        #expect(problems.first?.tag == "long")
    }

    @Test func duplicateIdsAndTagsWithoutRulesAreRefused() {
        let problems = errors("""
            tag a
              when exists(view_item)
            tag a
              when exists(consult)
            tag b "nothing"
              category value
            """)

        #expect(problems.map(\.message).contains("a tag with id `a` is already defined (line 1)"))
        #expect(problems.contains { $0.tag == "b" && $0.message.hasPrefix("the tag has no rule") })
    }

    @Test func twoTagsCountingTheSameThingShareOneFeature() throws {
        let tagSet = try RuleCompiler.compileOrThrow([RuleSource(text: """
            tag a
              when count(view_item where project = "玻尿酸") in last 3 days >= 3
            tag b
              when count(view_item where project = "玻尿酸") in last 3 days >= 1 and exists(pay_order)
            """)])

        #expect(tagSet.features.count == 2)
        #expect(tagSet.tags.map(\.source) == [
            "tag a\n  when count(view_item where project = \"玻尿酸\") in last 3 days >= 3",
            "tag b\n  when count(view_item where project = \"玻尿酸\") in last 3 days >= 1 and exists(pay_order)",
        ])
    }

    @Test func tagsAreOrderedAfterTheTagsTheyReferTo() throws {
        let tagSet = try RuleCompiler.compileOrThrow([RuleSource(text: """
            tag vip
              when tag.spender and trait.city = "上海"
            tag spender
              when sum(pay_order.amount) > 100
            """)])

        #expect(tagSet.tags.map(\.id) == ["spender", "vip"])
    }

    @Test func chineseIdsQuotesAndOneLineTagsAreFine() throws {
        let tagSet = try RuleCompiler.compileOrThrow([RuleSource(text: """
            tag 高意向 “高意向用户” when count("Order Completed" where 项目 = '玻尿酸') >= 1
            tag 城市 value trait.城市
            """)])

        #expect(tagSet.tags.map(\.id) == ["高意向", "城市"])
        #expect(tagSet.tags[0].displayName == "高意向用户")
        #expect(tagSet.features.first?.selector == .named("Order Completed"))
    }
}
