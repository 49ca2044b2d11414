import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import TagflowCore
@testable import TagflowServer

@Suite struct AdminAPITests {
    @Test func theAdminAPIRequiresABearerToken() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            let missing = try await client.execute(uri: "/api/stats", method: .get)
            #expect(missing.status == .unauthorized)
            #expect(missing.body.json["code"] == "missing_admin_token")

            let wrong = try await client.execute(uri: "/api/stats", method: .get, headers: [.authorization: "Bearer nope"])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.body.json["code"] == "invalid_admin_token")

            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
        }
    }

    @Test func aProfileIsFoundByAnyIdentifierWithItsTraitsAndTimeline() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            // Given a visitor who browsed anonymously, then identified in the mini-program.
            for i in 0..<5 {
                _ = try await client.collect("/v1/track", [
                    "anonymousId": "anon-1", "event": "view_item", "properties": ["project": "热玛吉"],
                    "timestamp": .string(Timestamp.format(1_700_000_000_000 + Int64(i) * 1000)),
                ])
            }
            _ = try await client.collect("/v1/identify", [
                "userId": "cust-1", "anonymousId": "anon-1",
                "traits": ["phone": "+86 139 0013 9000", "wechat_openid": "oAbc", "wechat_appid": "wx1", "name": "李四"],
                "context": ["device": ["id": "iphone-1"]],
                "timestamp": .string(Timestamp.format(1_700_000_010_000)),
            ])

            // When it is looked up by phone as a person would type it, or by WeChat openid.
            let byPhone = try await client.admin("/api/profiles/lookup?type=phone&value=139-0013-9000")
            let byOpenid = try await client.admin("/api/profiles/lookup?type=wechat_openid&value=wx1/oAbc")

            // Then both find the same profile with every identifier and trait.
            #expect(byPhone["id"] == byOpenid["id"])
            let types = Set(arrayOf(byPhone["identifiers"]).compactMap { $0["type"]?.stringValue })
            #expect(types == ["user_id", "anonymous_id", "phone", "wechat_openid", "device_id"])
            #expect(byPhone["traits"]?["name"] == "李四")
            #expect(byPhone["traits"]?.objectValue?.keys == ["name", "phone", "wechat_appid", "wechat_openid"])  // in order
            #expect(byPhone["eventCount"] == 6)
            #expect(byPhone["firstSeen"] == .string(Timestamp.format(1_700_000_000_000)))
            #expect(arrayOf(byPhone["events"]).count == 6)  // found by identifier as by number: with its events

            // And the timeline pages newest first.
            let id = try #require(byPhone["id"]).jsonString
            let first = try await client.admin("/api/profiles/\(id)?limit=4")
            #expect(arrayOf(first["events"]).map { $0["type"] } == ["identify", "track", "track", "track"])
            let cursor = try #require(first["next"]?.stringValue)
            let second = try await client.admin("/api/profiles/\(id)/events?limit=4&before=\(cursor)")
            #expect(arrayOf(second["events"]).count == 2)
            #expect(second["next"] == .null)
        }
    }

    @Test func unknownProfilesAndBadParametersAreClearErrors() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            let missing = try await client.execute(uri: "/api/profiles/999", method: .get, headers: .admin)
            #expect(missing.status == .notFound)
            #expect(missing.body.json["message"]?.stringValue?.contains("999") == true)

            let notNumber = try await client.execute(uri: "/api/profiles/abc", method: .get, headers: .admin)
            #expect(notNumber.status == .badRequest)

            let noValue = try await client.execute(uri: "/api/profiles/lookup?type=phone", method: .get, headers: .admin)
            #expect(noValue.status == .badRequest)

            let badLimit = try await client.execute(uri: "/api/events?limit=0", method: .get, headers: .admin)
            #expect(badLimit.status == .badRequest)
            #expect(badLimit.body.json["message"]?.stringValue?.contains("limit") == true)

            let badSource = try await client.execute(uri: "/api/sources", method: .post, headers: .admin,
                                                     body: ByteBuffer(string: "{}"))
            #expect(badSource.status == .badRequest)

            // A mistyped path is told apart from a missing profile: the answer names the endpoint it did not find.
            let mistyped = try await client.execute(uri: "/api/tags/lifecycle/explain?profile=2", method: .get, headers: .admin)
            #expect(mistyped.status == .notFound)
            #expect(mistyped.body.json["code"] == "not_found")
            #expect(mistyped.body.json["message"]?.stringValue?.contains("GET /api/tags/lifecycle/explain") == true)
            let wrongMethod = try await client.execute(uri: "/api/stats", method: .delete, headers: .admin)
            #expect(wrongMethod.body.json["message"]?.stringValue?.contains("DELETE /api/stats") == true)
        }
    }

    @Test func mergesAndRefusalsAreListed() async throws {
        let directory = TestDirectory()
        let app = try await makeTestTagflow(directory).application
        try await app.test(.router) { client in
            _ = try await client.collect("/v1/track", ["userId": "u1", "anonymousId": "ipad", "event": "e"])
            _ = try await client.collect("/v1/track", ["anonymousId": "phone-app", "event": "e"])
            _ = try await client.collect("/v1/identify", ["userId": "u1", "anonymousId": "phone-app"])
            _ = try await client.collect("/v1/identify", ["userId": "u2", "anonymousId": "ipad"])

            let merges = arrayOf(try await client.admin("/api/merges")["merges"])

            #expect(merges.map { $0["accepted"] } == [false, true])
            #expect(merges.first?["reason"]?.stringValue?.contains("user_id") == true)
            let stats = try await client.admin("/api/stats")
            #expect(stats["profiles"] == 2)
            #expect(stats["mergesAccepted"] == 1)
            #expect(stats["mergesRefused"] == 1)
        }
    }
}
