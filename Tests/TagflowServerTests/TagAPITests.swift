import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import TagflowCore
@testable import TagflowServer
@testable import TagflowStore

@Suite struct TagAPITests {
    static let highIntent = """
        tag high_intent "高意向-玻尿酸"
          category interest
          when count(view_item where project = "玻尿酸") in last 3 days >= 2
        """

    func views(_ client: some TestClientProtocol, user: String, count: Int, project: String = "玻尿酸") async throws {
        for _ in 0..<count {
            let response = try await client.collect("/v1/track", [
                "userId": .string(user), "event": "view_item", "properties": ["project": .string(project)],
            ])
            #expect(response.status == .ok)
        }
    }

    func post(_ client: some TestClientProtocol, _ path: String, _ body: JSONValue, method: HTTPRequest.Method = .post) async throws -> TestResponse {
        try await client.execute(uri: path, method: method, headers: .admin, body: ByteBuffer(json: body))
    }

    @Test func aNewTagIsBackFilledOverHistoryAndThenKeptLive() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            // Given two people who viewed 玻尿酸, twice and once, before the tag existed.
            try await views(client, user: "u-1", count: 2)
            try await views(client, user: "u-2", count: 1)

            // When the tag is created
            let created = try await post(client, "/api/tags", ["source": .string(Self.highIntent)])

            // then it is back-filled: u-1 gained it, u-2 did not.
            #expect(created.status == .ok)
            let entry = try #require(arrayOf(created.body.json["entries"]).first)
            #expect(entry["action"] == "create")
            #expect(entry["version"] == 1)
            #expect(entry["gained"] == 1)
            #expect(arrayOf(entry["gainedSample"]).count == 1)
            let members = try await client.admin("/api/tags/high_intent/members")
            let u1 = try #require(arrayOf(members["members"]).first?["profile"])
            #expect(arrayOf(members["members"]).count == 1)

            // And when u-2 views again, u-2 gains it at once, with the event as the cause.
            try await views(client, user: "u-2", count: 1)
            let after = try await client.admin("/api/tags/high_intent/members")
            #expect(arrayOf(after["members"]).count == 2)
            let u2 = try #require(arrayOf(after["members"]).last?["profile"])
            let history = try await client.admin("/api/profiles/\(u2.jsonString)/tag-history")
            #expect(arrayOf(history["history"]).first?["cause"] == "event")
            #expect(arrayOf(history["history"]).first?["new"] == true)

            let tags = try await client.admin("/api/profiles/\(u1.jsonString)/tags")
            #expect(arrayOf(tags["tags"]).map { $0["tag"] } == ["high_intent"])
        }
    }

    @Test func aRuleWithErrorsIsRefusedWithEveryProblemAndNothingChanges() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            try await views(client, user: "u-1", count: 1)

            let refused = try await post(client, "/api/tags", ["source": """
                tag broken "坏"
                  category intrest
                  when count(veiw_item) >= "2"
                """])

            #expect(refused.status == .unprocessableContent)
            let diagnostics = arrayOf(refused.body.json["diagnostics"])
            #expect(diagnostics.count == 3)
            #expect(diagnostics.map { "\($0["line"]?.jsonString ?? ""):\($0["column"]?.jsonString ?? "")" } == ["2:12", "3:14", "3:25"])
            #expect(diagnostics[1]["suggestion"] == "did you mean `view_item`?")
            #expect(refused.body.json["applied"] == false)
            let tags = try await client.admin("/api/tags")
            #expect(arrayOf(tags["tags"]).isEmpty)
        }
    }

    @Test func editsMakeVersionsDryRunsChangeNothingAndEverythingIsAudited() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            try await views(client, user: "u-1", count: 2)
            try await views(client, user: "u-2", count: 1)
            _ = try await post(client, "/api/tags", ["source": .string(Self.highIntent)])
            let looser = Self.highIntent.replacingOccurrences(of: ">= 2", with: ">= 1")

            // A dry run of a looser rule says who would gain it, and changes nothing.
            let dry = try await post(client, "/api/tags?dry_run=true", ["source": .string(looser)])
            let dryEntry = try #require(arrayOf(dry.body.json["entries"]).first)
            #expect(dryEntry["action"] == "edit")
            #expect(dryEntry["gained"] == 1)
            #expect(dry.body.json["applied"] == false)
            #expect(arrayOf(try await client.admin("/api/tags/high_intent/versions")["versions"]).count == 1)

            // Applying it makes version 2, back-filled.
            let edit = try await client.execute(
                uri: "/api/tags", method: .post, headers: [.authorization: "Bearer \(adminToken)", .contentType: "text/plain",
                                                          HTTPField.Name("X-Tagflow-Actor")!: "alice"],
                body: ByteBuffer(string: looser))
            #expect(edit.status == .ok)
            let tag = try await client.admin("/api/tags/high_intent")
            #expect(tag["version"] == 2)
            #expect(tag["members"] == 2)

            // Disabling removes it from everyone; deleting hides it; the audit has all of it.
            let disabled = try await post(client, "/api/tags/high_intent/disable", [:])
            #expect(arrayOf(disabled.body.json["entries"]).first?["lost"] == 2)
            _ = try await post(client, "/api/tags/high_intent", [:], method: .delete)
            #expect(arrayOf(try await client.admin("/api/tags")["tags"]).isEmpty)
            let audit = arrayOf(try await client.admin("/api/tags/high_intent/audit")["audit"])
            #expect(audit.map { $0["action"] } == ["delete", "disable", "edit", "create"])
            #expect(audit[2]["actor"] == "alice")
            #expect(audit[2]["before"]?.stringValue?.contains(">= 2") == true)
            #expect(audit[2]["after"]?.stringValue?.contains(">= 1") == true)

            let missing = try await post(client, "/api/tags/nope/disable", [:])
            #expect(missing.status == .notFound)
        }
    }

    @Test func explainShowsThePartsTheirValuesTheEventsAndTheNextChange() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            _ = try await post(client, "/api/tags", ["source": .string(Self.highIntent)])
            try await views(client, user: "u-1", count: 2)
            let member = try #require(arrayOf(try await client.admin("/api/tags/high_intent/members")["members"]).first)
            let profile = try #require(member["profile"])

            let explanation = try await client.admin("/api/profiles/\(profile.jsonString)/tags/high_intent/explain")

            #expect(explanation["value"] == true)
            let condition = try #require(arrayOf(explanation["conditions"]).first)
            #expect(condition["expression"] == #"count(view_item where project = "玻尿酸") in last 3 days >= 2"#)
            let count = try #require(arrayOf(condition["children"]).first)
            #expect(count["value"] == 2)
            #expect(arrayOf(count["events"]).count == 2)
            // Moments written as everywhere in the API: ISO 8601, the value's start as the members list has it.
            #expect(explanation["since"] == member["since"])
            let at = try #require(explanation["at"]?.stringValue.flatMap(Timestamp.parse))
            let next = try #require(explanation["nextChange"]?.stringValue.flatMap(Timestamp.parse))
            #expect(next > at && next <= at + 3 * 86_400_000)
        }
    }

    @Test func tagStateSurvivesARestartIdenticallyAndTimeChangesAreRecordedAtTheirMoment() async throws {
        let directory = TestDirectory()
        let rule = """
            tag recent "近期浏览"
              when exists(view_item) in last 2 seconds
            tag ever "浏览过"
              when exists(view_item)
            """
        let app = try await makeTestTagflow(directory).application
        let before = try await app.test(.router) { client in
            _ = try await post(client, "/api/tags", ["source": .string(rule)])
            try await views(client, user: "u-1", count: 1)
            return arrayOf(try await client.admin("/api/profiles/1/tags")["tags"])
        }
        #expect(before.map { $0["tag"] } == ["ever", "recent"])

        // After a restart the state is the same, `since` included.
        let store = try SQLiteStore(directory: directory.path)
        let restored = try await store.tags(of: ProfileID(1))
        #expect(restored.map { JSONValue.string($0.tag) } == before.map { $0["tag"] ?? .null })
        #expect(restored.map { JSONValue.string($0.since) } == before.map { $0["since"] ?? .null })

        // Time passing removes `recent` exactly 2 seconds after the view.
        let due = try #require(store.nextTagDue)
        try store.advanceTags(to: due + 10_000)
        let history = try await store.tagHistory(profile: ProfileID(1), tag: "recent", before: nil, limit: 10)
        #expect(history.first?.cause == "time")
        #expect(history.first?.at == Timestamp.format(due))
        #expect(try await store.tags(of: ProfileID(1)).map(\.tag) == ["ever"])
        try store.close()
    }

    @Test func mergedProfilesCombineTheirTags() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            _ = try await post(client, "/api/tags", ["source": .string(Self.highIntent)])
            // One view on the phone app anonymously, one on the web after logging in...
            _ = try await client.collect("/v1/track", ["anonymousId": "anon-9", "event": "view_item", "properties": ["project": "玻尿酸"]])
            _ = try await client.collect("/v1/track", ["userId": "u-9", "event": "view_item", "properties": ["project": "玻尿酸"]])
            #expect(arrayOf(try await client.admin("/api/tags/high_intent/members")["members"]).isEmpty)

            // ...then an identify links the two: one person, two views, the tag.
            _ = try await client.collect("/v1/identify", ["userId": "u-9", "anonymousId": "anon-9"])

            let members = arrayOf(try await client.admin("/api/tags/high_intent/members")["members"])
            #expect(members.count == 1)
        }
    }
}
