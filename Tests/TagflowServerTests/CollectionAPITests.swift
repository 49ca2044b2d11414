import CompressNIO
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import TagflowCore
@testable import TagflowServer
import TagflowStore

@Suite struct CollectionAPITests {
    static let paths: [(String, JSONValue, String)] = [
        ("/v1/track", ["userId": "u1", "event": "view_item", "properties": ["project": "玻尿酸"]], "track"),
        ("/v1/t", ["anonymousId": "a1", "event": "view_item"], "track"),
        ("/v1/identify", ["userId": "u1", "traits": ["phone": "13800138000"]], "identify"),
        ("/v1/i", ["userId": "u1", "traits": ["city": "上海"]], "identify"),
        ("/v1/page", ["anonymousId": "a1", "name": "首页"], "page"),
        ("/v1/p", ["anonymousId": "a1"], "page"),
        ("/v1/screen", ["userId": "u1", "name": "预约页"], "screen"),
        ("/v1/s", ["userId": "u1", "name": "预约页"], "screen"),
        ("/v1/group", ["userId": "u1", "groupId": "clinic-1"], "group"),
        ("/v1/g", ["userId": "u1", "groupId": "clinic-1"], "group"),
        ("/v1/alias", ["userId": "u1", "previousId": "a1"], "alias"),
        ("/v1/a", ["userId": "u1", "previousId": "a1"], "alias"),
    ]

    @Test(arguments: paths)
    func everyPathAndAliasAcceptsItsMessage(path: String, body: JSONValue, type: String) async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            let response = try await client.collect(path, body)

            #expect(response.status == .ok)
            #expect(response.body.text == #"{"success":true}"#)
            let events = arrayOf(try await client.admin("/api/events")["events"])
            #expect(events.count == 1)
            #expect(events.first?["type"] == .string(type))
        }
    }

    @Test func theWriteKeyMayComeInTheBodyAndJSONIsReadWhateverTheContentType() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            let body: JSONValue = ["writeKey": .string(writeKey), "batch": [["type": "track", "event": "e", "anonymousId": "a"]]]
            let response = try await client.execute(uri: "/v1/b", method: .post, headers: [.contentType: "text/plain"],
                                                    body: ByteBuffer(json: body))
            #expect(response.status == .ok)

            let single: JSONValue = ["writeKey": .string(writeKey), "event": "e", "anonymousId": "a"]
            #expect(try await client.collect("/v1/t", single, headers: [:]).status == .ok)
            let events = arrayOf(try await client.admin("/api/events")["events"])
            #expect(events.count == 2)
            #expect(events.allSatisfy { $0["payload"]?["writeKey"] == nil })
        }
    }

    @Test func requestsWithoutAValidWriteKeyAreRefused() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            let body: JSONValue = ["event": "e", "anonymousId": "a"]
            let missing = try await client.collect("/v1/track", body, headers: [:])
            #expect(missing.status == .unauthorized)
            #expect(missing.body.json["code"] == "missing_write_key")

            let wrong = try await client.collect("/v1/track", body,
                                                 headers: [.authorization: "Basic " + Data("nope:".utf8).base64EncodedString()])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.body.json["code"] == "invalid_write_key")
        }
    }

    @Test func aRevokedSourceCanNoLongerSend() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            let created = try await client.execute(uri: "/api/sources", method: .post, headers: .admin,
                                                   body: ByteBuffer(json: ["name": "miniprogram"])).body.json
            let key = try #require(created["writeKey"]?.stringValue)
            let auth: HTTPFields = [.authorization: "Basic " + Data("\(key):".utf8).base64EncodedString()]
            #expect(try await client.collect("/v1/t", ["event": "e", "anonymousId": "a"], headers: auth).status == .ok)

            let id = try #require(created["id"]).jsonString
            let revoked = try await client.execute(uri: "/api/sources/\(id)", method: .delete, headers: .admin)
            #expect(revoked.status == .ok)
            #expect(revoked.body.json["revokedAt"]?.stringValue != nil)

            #expect(try await client.collect("/v1/t", ["event": "e", "anonymousId": "a"], headers: auth).status == .unauthorized)
            #expect(arrayOf(try await client.admin("/api/sources")["sources"]).count == 2)
        }
    }

    @Test func gzippedBodiesAreInflated() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            let body: JSONValue = ["batch": [["type": "track", "event": "gz", "anonymousId": "a"]]]
            var plain = ByteBuffer(json: body)
            let gzipped = try plain.compress(with: .gzip())
            var headers = HTTPFields.basicAuth
            headers[.contentEncoding] = "gzip"

            let response = try await client.execute(uri: "/v1/batch", method: .post, headers: headers, body: gzipped)

            #expect(response.status == .ok)
            #expect(arrayOf(try await client.admin("/api/events")["events"]).first?["name"] == "gz")
        }
    }

    @Test func aGzipBombIsRefusedWithoutInflatingIt() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            var zeros = ByteBuffer(repeating: UInt8(ascii: " "), count: 20 << 20)
            let bomb = try zeros.compress(with: .gzip())
            #expect(bomb.readableBytes < 100_000)

            let response = try await client.execute(uri: "/v1/batch", method: .post, headers: .basicAuth, body: bomb)

            #expect(response.status == .badRequest)
            #expect(response.body.json["code"] == "request_too_large")

            var headers = HTTPFields.basicAuth
            headers[.contentEncoding] = "gzip"
            let corrupt = try await client.execute(uri: "/v1/batch", method: .post, headers: headers,
                                                   body: ByteBuffer(string: "not gzip at all"))
            #expect(corrupt.status == .badRequest)
            #expect(corrupt.body.json["code"] == "invalid_gzip")
        }
    }

    @Test func browsersGetCORSAnswersIncludingPreflight() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            let preflight = try await client.execute(
                uri: "/v1/t", method: .options,
                headers: [.origin: "https://h5.clinic.cn", .accessControlRequestMethod: "POST",
                          .accessControlRequestHeaders: "content-type"])
            #expect(preflight.status.code < 300)
            #expect(preflight.headers[.accessControlAllowOrigin] == "https://h5.clinic.cn")
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("POST") == true)

            var headers = HTTPFields.basicAuth
            headers[.origin] = "https://h5.clinic.cn"
            let post = try await client.execute(uri: "/v1/t", method: .post, headers: headers,
                                                body: ByteBuffer(json: ["event": "e", "anonymousId": "a"]))
            #expect(post.headers[.accessControlAllowOrigin] == "https://h5.clinic.cn")
        }
    }

    @Test func unparseableOrOversizeRequestsGet400WithCodeAndMessage() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            let broken = try await client.execute(uri: "/v1/batch", method: .post, headers: .basicAuth,
                                                  body: ByteBuffer(string: "{\"batch\": [\n {\"type\": \"track\",}\n]}"))
            #expect(broken.status == .badRequest)
            #expect(broken.body.json["code"] == "invalid_json")
            #expect(broken.body.json["message"]?.stringValue?.contains("line 2") == true)

            let huge = ByteBuffer(string: #"{"batch":[{"type":"track","event":"e","anonymousId":"a","properties":{"x":""# +
                                  String(repeating: "x", count: 600_000) + #""}}]}"#)
            let oversize = try await client.execute(uri: "/v1/batch", method: .post, headers: .basicAuth, body: huge)
            #expect(oversize.status == .badRequest)
            #expect(oversize.body.json["code"] == "request_too_large")

            let notBatch = try await client.collect("/v1/batch", ["type": "track"])
            #expect(notBatch.status == .badRequest)
            #expect(notBatch.body.json["code"] == "invalid_batch")

            let unknown = try await client.collect("/v1/purchase", ["type": "track"])
            #expect(unknown.status == .notFound)
            #expect(try await client.admin("/api/stats")["eventsAccepted"] == 0)
        }
    }

    @Test func badEventsAreQuarantinedAndNeverFailTheirBatch() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            let big = JSONValue.string(String(repeating: "长", count: 12_000))
            let response = try await client.collect("/v1/batch", ["batch": [
                ["type": "track", "event": "ok-1", "userId": "u1"],
                ["type": "track", "event": "no ids"],
                ["type": "track", "event": "ok-2", "anonymousId": "a1"],
                ["type": "teleport", "userId": "u1"],
                ["type": "track", "event": "huge", "userId": "u1", "properties": ["blob": big]],
                "not even an object",
                ["type": "identify", "userId": "u1", "traits": ["age"]],
            ]])

            #expect(response.status == .ok)
            let events = arrayOf(try await client.admin("/api/events")["events"])
            #expect(events.map { $0["name"] } == ["ok-1", "ok-2"])
            let entries = arrayOf(try await client.admin("/api/quarantine")["entries"])
            #expect(entries.map { $0["position"] } == [1, 3, 4, 5, 6])
            #expect(entries.map { $0["code"] } == ["no_user_anon_id", "unknown_type", "event_too_large", "not_an_object",
                                                   "invalid_field"])
            #expect(entries.last?["field"] == "traits")
            let stats = try await client.admin("/api/stats")
            #expect(stats["eventsAccepted"] == 2)
            #expect(stats["eventsQuarantined"] == 5)
        }
    }

    @Test func quarantinedMessagesCanBeFixedAndReplayedOrDiscarded() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            _ = try await client.collect("/v1/batch", ["batch": [
                ["type": "track", "event": "pay_order", "properties": ["amount": 3980]],
                ["type": "track", "event": "junk"],
            ]])
            let entries = arrayOf(try await client.admin("/api/quarantine")["entries"])
            let first = try #require(entries.first?["id"]).jsonString
            let second = try #require(entries.last?["id"]).jsonString

            let stillBad = try await client.execute(uri: "/api/quarantine/\(first)/replay", method: .post, headers: .admin)
            #expect(stillBad.status == .unprocessableContent)
            #expect(stillBad.body.json["code"] == "no_user_anon_id")

            let fixed: JSONValue = ["type": "track", "event": "pay_order", "userId": "u-77", "properties": ["amount": 3980]]
            let replayed = try await client.execute(uri: "/api/quarantine/\(first)/replay", method: .post, headers: .admin,
                                                    body: ByteBuffer(json: fixed))
            #expect(replayed.status == .ok)
            #expect(replayed.body.json["status"] == "replayed")
            #expect(replayed.body.json["replayedSeq"] == 1)

            let again = try await client.execute(uri: "/api/quarantine/\(first)/replay", method: .post, headers: .admin,
                                                 body: ByteBuffer(json: fixed))
            #expect(again.status == .conflict)

            let discarded = try await client.execute(uri: "/api/quarantine/\(second)/discard", method: .post, headers: .admin)
            #expect(discarded.body.json["status"] == "discarded")

            let profile = try await client.admin("/api/profiles/lookup?type=user_id&value=u-77")
            #expect(profile["eventCount"] == 1)
            #expect(arrayOf(try await client.admin("/api/quarantine")["entries"]).isEmpty)
            #expect(arrayOf(try await client.admin("/api/quarantine?status=all")["entries"]).count == 2)
        }
    }

    @Test func aRetriedBatchIsStoredOnce() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            let batch: JSONValue = ["batch": [
                ["type": "track", "event": "e", "anonymousId": "a", "messageId": "m-1"],
                ["type": "track", "event": "e", "anonymousId": "a", "messageId": "m-2"],
            ]]
            #expect(try await client.collect("/v1/batch", batch).status == .ok)
            #expect(try await client.collect("/v1/batch", batch).status == .ok)

            let stats = try await client.admin("/api/stats")
            #expect(stats["eventsAccepted"] == 2)
            #expect(stats["eventsDeduplicated"] == 2)
        }
    }

    @Test func clockSkewIsCorrectedWithTheBatchSentAt() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            // A phone whose clock runs 3 hours fast recorded the event 10 s before sending the batch.
            let skew: EpochMillis = 3 * 3_600_000
            let deviceNow = nowMillis() + skew
            let batch: JSONValue = ["sentAt": .string(Timestamp.format(deviceNow)), "batch": [
                ["type": "track", "event": "e", "anonymousId": "a",
                 "originalTimestamp": .string(Timestamp.format(deviceNow - 10_000))],
            ]]

            #expect(try await client.collect("/v1/batch", batch).status == .ok)

            let event = try #require(arrayOf(try await client.admin("/api/events")["events"]).first)
            let stored = try #require(event["timestamp"]?.stringValue.flatMap(Timestamp.parse))
            let received = try #require(event["receivedAt"]?.stringValue.flatMap(Timestamp.parse))
            #expect(stored == received - 10_000)
            #expect(event["clampedFromFuture"] == false)
        }
    }

    @Test func aSaturatedWritePathAnswers429WithRetryAfter() async throws {
        let directory = TestDirectory()
        let tagflow = try await makeTestTagflow(directory) {
            $0.ingestQueueCapacity = 150
            $0.maxEventsPerCommit = 100
        }
        // Another process's write lock stalls the disk.
        var unsafe = Configuration()
        unsafe.allowsUnsafeTransactions = true
        let blocker = try DatabaseQueue(path: tagflow.store.path, configuration: unsafe)
        try await blocker.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
        let batch: JSONValue = ["batch": .array((0..<100).map { i in
            ["type": "track", "event": "e", "anonymousId": .string("a\(i)")]
        })]
        try await tagflow.application.test(.router) { client in
            async let stalled = client.collect("/v1/batch", batch)
            while tagflow.queue.waitingEvents < 100 { try await Task.sleep(for: .milliseconds(5)) }

            let refused = try await client.collect("/v1/batch", batch)

            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter] == "1")
            #expect(refused.body.json["code"] == "too_many_requests")
            try await blocker.writeWithoutTransaction { try $0.execute(sql: "COMMIT") }
            #expect(try await stalled.status == .ok)
            #expect(try await client.collect("/v1/batch", batch).status == .ok)
            #expect(try await client.admin("/api/stats")["eventsAccepted"] == 200)
        }
    }
}
