import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

@testable import TagflowCore
@testable import TagflowServer
@testable import TagflowStore

/// Audiences through the admin API: defined in the rule language, kept in real time, sized, paged, exported,
/// overlapped, and flagged when a tag they use goes away.
@Suite struct SegmentAPITests {
    static let tags = """
        tag high_intent "高意向-玻尿酸"
          when count(view_item where project = "玻尿酸") >= 2
        tag paid "已支付"
          when exists(pay_order)
        tag viewer "浏览过"
          when exists(view_item)
        tag browsed "看过项目"
          when count(view_item) >= 1
        tag never "从未出现"
          when exists(refund)
        tag stage "阶段"
          case "paid" when exists(pay_order)
          case "browsing" when exists(view_item)
        """
    static let leads = """
        segment leads "玻尿酸高意向未付费-京沪"
          when tag.high_intent and not tag.paid and trait.city in ["上海", "北京"]
        """

    func track(_ client: some TestClientProtocol, _ user: String, _ event: String, project: String = "玻尿酸") async throws {
        let response = try await client.collect("/v1/track", [
            "userId": .string(user), "event": .string(event), "properties": ["project": .string(project)],
        ])
        #expect(response.status == .ok)
    }

    func identify(_ client: some TestClientProtocol, _ user: String, city: String, phone: String) async throws {
        let response = try await client.collect("/v1/identify", [
            "userId": .string(user), "traits": ["city": .string(city), "phone": .string(phone)],
        ])
        #expect(response.status == .ok)
    }

    func send(_ client: some TestClientProtocol, _ path: String, _ body: JSONValue, method: HTTPRequest.Method = .post) async throws -> TestResponse {
        try await client.execute(uri: path, method: method, headers: .admin, body: ByteBuffer(json: body))
    }

    /// u-1 (上海) and u-2 (北京) viewed 玻尿酸 twice; u-3 (杭州) too; u-4 (上海) viewed once; u-2 paid.
    func givenClinicVisitors(_ client: some TestClientProtocol) async throws {
        for (user, city, phone) in [("u-1", "上海", "13800000001"), ("u-2", "北京", "13800000002"),
                                    ("u-3", "杭州", "13800000003"), ("u-4", "上海", "13800000004")] {
            try await identify(client, user, city: city, phone: phone)
        }
        for user in ["u-1", "u-2", "u-3"] {
            try await track(client, user, "view_item")
            try await track(client, user, "view_item")
        }
        try await track(client, "u-4", "view_item")
        try await track(client, "u-2", "pay_order")
        #expect(try await send(client, "/api/tags", ["source": .string(Self.tags)]).status == .ok)
    }

    func profile(_ client: some TestClientProtocol, _ user: String) async throws -> Int64 {
        let answer = try await client.admin("/api/profiles/lookup?type=user_id&value=\(user)")
        guard case .int(let id)? = answer["id"] else { throw APIError.notFound("profile of \(user): \(answer)") }
        return id
    }

    /// (Its history is read from the rows filed by tag, or from those not filed yet: ``TagStateLog``.)
    @Test(arguments: [TagStateLog(), TagStateLog(fileAfter: 1)])
    func aSegmentIsBackFilledKeptLiveAndRecordsEveryEntryAndExit(log: TagStateLog) async throws {
        let directory = TestDirectory()
        let tagflow = try await makeTestTagflow(directory)
        tagflow.store.tagRuntime.withLock { $0.stateLog = log }
        let app = tagflow.application
        try await app.test(.router) { client in
            try await givenClinicVisitors(client)

            // When the segment is created
            let created = try await send(client, "/api/segments", ["source": .string(Self.leads)])

            // then only u-1 is in it: u-2 paid, u-3 is in 杭州, u-4 viewed once.
            #expect(created.status == .ok)
            #expect(arrayOf(created.body.json["entries"]).first { $0["tag"] == "leads" }?["action"] == "create")
            let u1 = try await profile(client, "u-1")
            #expect(try await client.admin("/api/segments/leads/size")["size"] == 1)
            let members = try await client.admin("/api/segments/leads/members")
            #expect(arrayOf(members["members"]).map { $0["profile"] } == [.int(u1)])
            let identifiers = arrayOf(arrayOf(members["members"]).first?["identifiers"])
            #expect(identifiers.contains { $0["type"] == "user_id" && $0["value"] == "u-1" })
            #expect(identifiers.contains { $0["type"] == "phone" })
            let listed = arrayOf(try await client.admin("/api/segments")["segments"])
            #expect(listed.map { $0["id"] } == ["leads"] && listed.first?["members"] == 1)
            #expect(!arrayOf(try await client.admin("/api/tags")["tags"]).contains { $0["id"] == "leads" })

            // And when u-4 views again, u-4 enters at once; when u-1 pays, u-1 exits at once.
            try await track(client, "u-4", "view_item")
            try await track(client, "u-1", "pay_order")
            let u4 = try await profile(client, "u-4")
            let now = arrayOf(try await client.admin("/api/segments/leads/members")["members"]).map { $0["profile"] }
            #expect(now == [.int(u4)])
            let history = arrayOf(try await client.admin("/api/segments/leads/history")["history"])
            #expect(history.map { $0["transition"] } == ["exited", "entered", "entered"])
            #expect(history.map { $0["cause"] } == ["event", "event", "definition"])
            #expect(history.map { $0["profile"] } == [.int(u1), .int(u4), .int(u1)])
            let sizes = arrayOf(try await client.admin("/api/segments/leads/size-history?interval=hour")["points"])
            #expect(sizes.last?["size"] == 1 && sizes.last?["entered"] == 2 && sizes.last?["exited"] == 1)
        }
    }

    @Test func exportsStreamEveryMemberAsCSVAndJSONLines() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            try await givenClinicVisitors(client)
            #expect(try await send(client, "/api/segments", ["source": """
                segment viewers_sh "上海浏览"
                  when tag.viewer and trait.city = "上海"
                """]).status == .ok)

            let csv = try await client.execute(uri: "/api/segments/viewers_sh/export", method: .get, headers: .admin)
            #expect(csv.status == .ok)
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            let lines = csv.body.text.split(separator: "\r\n").map(String.init)
            #expect(lines.first == "\u{FEFF}profile_id,since,value,user_id,phone,email,wechat_unionid,wechat_openid,anonymous_id,device_id,other_identifiers")
            #expect(lines.count == 3)  // u-1 and u-4
            #expect(lines.dropFirst().allSatisfy { $0.contains(",u-") && $0.contains(",138000000") })

            let jsonl = try await client.execute(uri: "/api/segments/viewers_sh/export?format=jsonl", method: .get, headers: .admin)
            let records = jsonl.body.text.split(separator: "\n").map { try? JSONParser.parse(String($0)) }
            #expect(records.count == 2 && records.allSatisfy { $0?["profile"] != nil && !arrayOf($0?["identifiers"]).isEmpty })

            // A tag's value exports the same way.
            let stage = try await client.execute(uri: "/api/tags/stage/export?format=jsonl&value=paid", method: .get, headers: .admin)
            let paid = stage.body.text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
            #expect(paid.map { $0["value"] } == ["paid"])

            let bad = try await client.execute(uri: "/api/segments/viewers_sh/export?format=xlsx", method: .get, headers: .admin)
            #expect(bad.status == .badRequest)
        }
    }

    @Test func previewsAreInstantForTagAlgebraAndReplayedOtherwiseAndBadTextIsRefusedWithWhere() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            try await givenClinicVisitors(client)

            // A segment over tags alone is computed from the bitmaps...
            let algebra = try await send(client, "/api/segments/preview", ["source": """
                segment browsing_unpaid
                  when tag.viewer and not tag.paid and tag.stage in ["browsing", "paid"]
                """])
            #expect(algebra.body.json["method"] == "bitmaps")
            #expect(algebra.body.json["size"] == 3)  // u-1, u-3, u-4
            // ...one reading traits is back-filled; neither creates anything.
            let replayed = try await send(client, "/api/segments?dry_run=true", ["source": .string(Self.leads)])
            #expect(replayed.body.json["method"] == "replay" && replayed.body.json["size"] == 1)
            #expect(arrayOf(try await client.admin("/api/segments")["segments"]).isEmpty)

            // A misspelt tag is refused with its line, column and a suggestion.
            let misspelt = try await send(client, "/api/segments/preview", ["source": """
                segment typo
                  when tag.high_intnet and not tag.paid
                """])
            #expect(misspelt.status == .unprocessableContent)
            let problem = try #require(arrayOf(misspelt.body.json["diagnostics"]).first)
            #expect(problem["line"] == 2 && problem["column"] == 8)
            #expect(problem["suggestion"] == "did you mean `tag.high_intent`?")

            // So are a misspelt trait and a condition that compares a yes/no tag with a number.
            let more = try await send(client, "/api/segments/preview", ["source": """
                segment typos
                  when trait.citty = "上海" and tag.paid > 3
                """])
            let problems = arrayOf(more.body.json["diagnostics"])
            #expect(more.status == .unprocessableContent && problems.count == 2, "\(problems)")
            #expect(problems.first?["column"] == 8 && problems.first?["suggestion"] == "did you mean `trait.city`?")
            #expect(problems.last?["column"] == 40)

            // A tag text sent as a segment, and a segment named as a tag, are explained.
            let wrongKind = try await send(client, "/api/segments", ["source": .string(Self.tags)])
            #expect(wrongKind.status == .badRequest)
            #expect(try await send(client, "/api/segments", ["source": .string(Self.leads)]).status == .ok)
            let asTag = try await send(client, "/api/segments/preview", ["source": "segment again\n  when tag.leads"])
            #expect(arrayOf(asTag.body.json["diagnostics"]).first?["suggestion"] == "write `segment.leads`")
            #expect(try await client.execute(uri: "/api/segments/paid", method: .get, headers: .admin).status == .badRequest)
            #expect(try await client.execute(uri: "/api/segments/nope/size", method: .get, headers: .admin).status == .notFound)
        }
    }

    @Test func overlapsAndTheGovernanceMatrixFlagRedundantTags() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            try await givenClinicVisitors(client)
            #expect(try await send(client, "/api/segments", ["source": .string(Self.leads)]).status == .ok)

            // Overlap of a segment, tags and a tag value.
            let overlap = try await client.admin("/api/overlap?names=high_intent,paid,stage=paid,leads")
            #expect(overlap["sizes"]?["high_intent"] == 3 && overlap["sizes"]?["stage=paid"] == 1)
            let pairs = arrayOf(overlap["pairs"])
            let intentPaid = try #require(pairs.first { $0["a"] == "high_intent" && $0["b"] == "paid" })
            #expect(intentPaid["both"] == 1 && intentPaid["either"] == 3)
            let paidStage = try #require(pairs.first { $0["a"] == "paid" && $0["b"] == "stage=paid" })
            #expect(paidStage["jaccard"] == 1)
            #expect(overlap["any"] == 3 && overlap["all"] == 0)
            let unknown = try await client.execute(uri: "/api/overlap?names=paid,nope", method: .get, headers: .admin)
            #expect(unknown.status == .notFound)

            // viewer and browsed hold the same people; nobody has `never`; everybody has `viewer`.
            let governance = try await client.admin("/api/tags/governance")
            let findings = arrayOf(governance["findings"])
            #expect(findings.contains { $0["kind"] == "near_duplicate" && $0["tags"] == ["browsed", "viewer"] })
            #expect(findings.contains { $0["kind"] == "nobody" && $0["tags"] == ["never"] })
            #expect(findings.contains { $0["kind"] == "everybody" && $0["tags"] == ["viewer"] })
            #expect(!findings.contains { $0["tags"] == ["leads"] })  // segments are not tags
            // A valued tag takes part value by value: `stage=paid` holds exactly the `paid` people.
            #expect(findings.contains { $0["kind"] == "near_duplicate" && $0["tags"] == ["paid", "stage=paid"] })
            #expect(arrayOf(governance["tags"]).contains("stage=browsing") && !arrayOf(governance["tags"]).contains("stage"))
            #expect(governance["profiles"] == 4)
            #expect(arrayOf(governance["tags"]).count == arrayOf(governance["both"]).count)
        }
    }

    @Test func aSegmentWhoseTagIsDeletedIsFlaggedBrokenNotSilentlyEmpty() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            try await givenClinicVisitors(client)
            #expect(try await send(client, "/api/segments", ["source": .string(Self.leads)]).status == .ok)

            // When the tag the segment uses is deleted
            let deleted = try await client.execute(uri: "/api/tags/paid", method: .delete, headers: .admin)

            // then the segment is kept, flagged broken with the reason, and asking its size says why.
            #expect(deleted.status == .ok)
            #expect(arrayOf(deleted.body.json["entries"]).contains { $0["tag"] == "leads" && $0["action"] == "break" })
            let segment = try await client.admin("/api/segments/leads")
            #expect(segment["status"] == "broken")
            #expect(segment["problem"]?.stringValue?.contains("`paid` (deleted)") == true)
            let size = try await client.execute(uri: "/api/segments/leads/size", method: .get, headers: .admin)
            #expect(size.status == .conflict && size.body.json["code"] == "segment_broken")
            #expect(try await client.admin("/api/segments/leads/audit")["audit"].map { arrayOf($0).first?["action"] } == "break")

            // And when the tag comes back and the segment is enabled, it has its members again.
            #expect(try await send(client, "/api/tags", ["source": "tag paid\n  when exists(pay_order)"]).status == .ok)
            #expect(try await send(client, "/api/segments/leads/enable", [:]).status == .ok)
            #expect(try await client.admin("/api/segments/leads/size")["size"] == 1)
        }
    }
}
