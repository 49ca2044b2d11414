import Testing

@testable import TagflowServer
import TagflowCore

/// `tagflow bench engine --per-tag`: each tag through the data set alone, with the tags it refers to.
@Suite struct EngineBenchmarkTests {
    @Test func eachTagRunsAloneWithTheTagsItRefersToAndTheDearestComesFirst() throws {
        // Given three tags, one referring to another, over a small data set.
        let rules = """
            tag viewer
              when count(view) in last 3 days >= 3
            tag buyer
              when exists(purchase) in last 30 days
            tag viewing_buyer
              when tag.viewer and tag.buyer
            tag never
              when exists(no_such_event)
            """
        let benchmark = EngineBenchmark(data: BenchData(users: 500, events: 5_000), sources: [RuleSource(name: "t.tags", text: rules)])

        // When each runs alone.
        let result = try benchmark.runPerTag().json

        // Then each is listed once, with what it refers to, the dearest first; a tag no event touches is
        // never evaluated.
        guard case .array(let rows)? = result["tags"] else { Issue.record("no tags in \(result)"); return }
        func figure(_ row: JSONValue, _ key: String) -> Double {
            switch row[key] {
            case .double(let d)?: d
            case .int(let n)?: Double(n)
            default: .nan
            }
        }
        let ids = rows.compactMap { $0["tag"]?.stringValue }
        #expect(ids.sorted() == ["buyer", "never", "viewer", "viewing_buyer"])
        let with = rows.first { $0["tag"]?.stringValue == "viewing_buyer" }?["with"]
        #expect(with == .array([.string("viewer"), .string("buyer")]))
        #expect(rows.first { $0["tag"]?.stringValue == "viewer" }?["with"] == .array([]))
        let costs = rows.map { figure($0, "microseconds_per_event") }
        #expect(costs == costs.sorted(by: >))
        let never = rows.first { $0["tag"]?.stringValue == "never" }!
        #expect(figure(never, "evaluations_per_event") == 0 && figure(never, "changes_per_event") == 0)
        let viewer = rows.first { $0["tag"]?.stringValue == "viewer" }!
        #expect(figure(viewer, "evaluations_per_event") > 0 && figure(viewer, "changes_per_event") > 0)
        #expect(result["events"] == .int(5_000))
    }
}
