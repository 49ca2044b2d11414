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

/// Change events delivered to real HTTP receivers on loopback: signed, in order per person, retried,
/// throttled, disabled by 410, isolated from each other, dead-lettered and replayed.
@Suite struct DeliveryTests {
    static let secret = "whsec_" + Data((0..<32).map { UInt8($0 * 7 % 251) }).base64EncodedString()
    static let tags = """
        tag views "浏览次数"
          value count(view_item)
        tag high_intent "高意向"
          when count(view_item) >= 2
        """

    @Test func signaturesMatchTheStandardWebhooksTestVector() throws {
        let body = Array(#"{"test": 2432232314}"#.utf8)
        let signature = try WebhookSigner.signature(
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(WebhookSigner.verify(header: "v1,bm9wZQ== " + signature, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                     id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body))
        #expect(!WebhookSigner.verify(header: signature, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                      id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_331, body: body))
    }

    @Test func bodyTemplatesShapeTheBodyAndKeepItValidJSON() throws {
        let event = #"{"type":"tag.added","data":{"name":"高意向 \"VIP\"\n","profile":{"id":7}}}"#
        let body = try BodyTemplate.render(
            #"{"msgtype": "text", "text": {"content": "{{data.name}} — 用户 {{data.profile.id}} ({{type}})"}}"#, event: event)
        let parsed = try JSONParser.parse(body)
        #expect(parsed["text"]?["content"] == "高意向 \"VIP\"\n — 用户 7 (tag.added)")
        #expect(throws: BodyTemplate.Invalid.self) { try BodyTemplate.compile("{{#data}} never closed") }
    }

    @Test func aTemplatedDestinationGetsItsOwnBodySigned() async throws {
        let receiver = Receiver(secret: Self.secret)
        try await receiver.serve { port in
            try await withTagflow { client in
                let response = try await client.execute(uri: "/api/destinations", method: .post, headers: .admin, body: ByteBuffer(json: [
                    "name": "wecom", "url": .string("http://127.0.0.1:\(port)/hook/ok"), "secret": .string(Self.secret),
                    "template": #"{"msgtype": "text", "text": {"content": "{{data.name}}: 用户 {{data.profile.id}} 进入"}}"#,
                ]))
                #expect(response.status == .created)
                try await automate(client, "bot", on: "tag.added", tag: "high_intent", destination: "wecom")
                try await view(client, "u-1")
                try await view(client, "u-1")
                try await eventually { receiver.taken.count == 1 }
                let taken = try #require(receiver.taken.first)
                #expect(taken.signed && taken.body["msgtype"] == "text")
                #expect(taken.body["text"]?["content"]?.stringValue?.hasPrefix("高意向: 用户 ") == true)

                let broken = try await client.execute(uri: "/api/destinations/wecom", method: .patch, headers: .admin,
                                                      body: ByteBuffer(json: ["template": "{{#data}}"]))
                #expect(broken.status == .unprocessableContent)
            }
        }
    }

    @Test func changesArriveSignedAndInOrderPerPersonThroughFailures() async throws {
        let receiver = Receiver(secret: Self.secret)
        try await receiver.serve { port in
            try await withTagflow { client in
                // Given a receiver that fails every message twice before taking it, and an automation on `views`
                let destination = try await create(client, "ma", url: "http://127.0.0.1:\(port)/hook/flaky")
                try await automate(client, "views-added", on: "tag.added", tag: "views", destination: destination)
                try await automate(client, "views-changed", on: "tag.changed", tag: "views", destination: destination)

                // when two people view three times each
                for _ in 0..<3 {
                    for user in ["u-1", "u-2"] { try await view(client, user) }
                }

                // then each person's changes arrive once each, in the order they happened, every one signed.
                try await eventually { receiver.taken.count == 6 }
                for user in ["u-1", "u-2"] {
                    let values = receiver.taken.filter { $0.user == user }.map { $0.body["data"]?["new"] }
                    #expect(values == [1, 2, 3], "\(user): \(values)")
                }
                #expect(receiver.taken.allSatisfy { $0.signed })
                #expect(Set(receiver.attempts.values) == [3])  // the same webhook-id on every attempt
                let first = try #require(receiver.taken.first)
                #expect(first.body["type"] == "tag.added" && first.body["data"]?["cause"] == "event")
                #expect(arrayOf(first.body["data"]?["profile"]?["identifiers"]?["user_id"]) == [.string(first.user)])
                // (attempts are recorded a moment after the receiver answers)
                try await eventually { arrayOf(try await client.admin("/api/destinations/ma/deliveries?limit=100")["deliveries"]).count == 18 }
                let log = arrayOf(try await client.admin("/api/destinations/ma/deliveries?limit=100")["deliveries"])
                #expect(log.filter { $0["status"] == 500 }.count == 12)

                // /metrics (Prometheus text) counts the same.
                let metrics = try await client.execute(uri: "/metrics", method: .get, headers: .admin).body.text
                #expect(metrics.contains(#"tagflow_delivery_attempts_total{destination="ma",result="success"} 6"#))
                #expect(metrics.contains(#"tagflow_delivery_attempts_total{destination="ma",result="failure"} 12"#))
                #expect(metrics.contains(#"tagflow_outbox_pending{destination="ma"} 0"#))
                #expect(metrics.contains(#"tagflow_tag_members{tag="views"} 2"#))
                // The writer's CPU time, and the tag engine's part of it (it evaluated `views` six times).
                func seconds(_ name: String) -> Double? {
                    metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
                }
                let writer = try #require(seconds("tagflow_writer_cpu_seconds_total"))
                let engine = try #require(seconds("tagflow_tag_engine_cpu_seconds_total"))
                #expect(engine > 0 && engine < writer, "engine \(engine) s of the writer's \(writer) s")
                #expect(try await client.execute(uri: "/metrics", method: .get).status == .unauthorized)
            }
        }
    }

    @Test func aTestSendAndARotatedSecretBothVerify() async throws {
        let receiver = Receiver(secret: Self.secret)
        try await receiver.serve { port in
            try await withTagflow { client in
                _ = try await create(client, "ma", url: "http://127.0.0.1:\(port)/hook/ok")
                let test = try await client.execute(uri: "/api/destinations/ma/test", method: .post, headers: .admin)
                #expect(test.body.json["delivered"] == true && test.body.json["status"] == 204)
                #expect(receiver.taken.first?.body["type"] == "tagflow.test" && receiver.taken.first?.signed == true)

                // After a rotation the old secret still verifies (a second signature) while receivers switch over.
                let rotated = try await client.execute(uri: "/api/destinations/ma/rotate-secret", method: .post, headers: .admin)
                let newSecret = try #require(rotated.body.json["secret"]?.stringValue)
                #expect(newSecret != Self.secret && rotated.body.json["previousSecret"]?.stringValue == Self.secret)
                _ = try await client.execute(uri: "/api/destinations/ma/test", method: .post, headers: .admin)
                #expect(receiver.taken.count == 2 && receiver.taken.last?.signed == true)
                #expect(receiver.signatures.last?.split(separator: " ").count == 2)
            }
        }
    }

    @Test func mergesAreSentAsProfileMerged() async throws {
        let receiver = Receiver(secret: Self.secret)
        try await receiver.serve { port in
            try await withTagflow { client in
                _ = try await create(client, "cdp", url: "http://127.0.0.1:\(port)/hook/ok")
                let created = try await client.execute(uri: "/api/automations", method: .post, headers: .admin, body: ByteBuffer(json: [
                    "name": "merges", "destination": "cdp", "trigger": ["on": "profile.merged"],
                ]))
                #expect(created.status == .created)
                // An anonymous visitor and a logged-in user, then one event carrying both ids.
                _ = try await client.collect("/v1/track", ["anonymousId": "a-1", "event": "view_item"])
                _ = try await client.collect("/v1/track", ["userId": "u-1", "event": "view_item"])
                _ = try await client.collect("/v1/track", ["userId": "u-1", "anonymousId": "a-1", "event": "view_item"])
                try await eventually { !receiver.taken.isEmpty }
                let merged = try #require(receiver.taken.first?.body)
                #expect(merged["type"] == "profile.merged" && merged["data"]?["cause"] == "event")
                #expect(merged["data"]?["via"]?["type"] != nil && merged["data"]?["merged"]?["id"] != nil)
                let identifiers = merged["data"]?["profile"]?["identifiers"]
                #expect(arrayOf(identifiers?["user_id"]) == ["u-1"] && arrayOf(identifiers?["anonymous_id"]) == ["a-1"])
            }
        }
    }

    @Test func rawEventsMatchingAFilterAreForwarded() async throws {
        let receiver = Receiver(secret: Self.secret)
        try await receiver.serve { port in
            try await withTagflow { client in
                _ = try await create(client, "erp", url: "http://127.0.0.1:\(port)/hook/ok")
                let created = try await client.execute(uri: "/api/automations", method: .post, headers: .admin, body: ByteBuffer(json: [
                    "name": "big orders", "destination": "erp",
                    "trigger": ["on": "event", "event": "pay_order", "where": #"amount >= 1000 and project = "玻尿酸""#],
                ]))
                #expect(created.status == .created, "\(created.body.text)")
                for (amount, project) in [(500, "玻尿酸"), (3000, "热玛吉"), (2000, "玻尿酸")] {
                    _ = try await client.collect("/v1/track", [
                        "userId": "u-1", "event": "pay_order",
                        "properties": ["amount": .int(Int64(amount)), "project": .string(project)],
                    ])
                }
                try await view(client, "u-1")
                try await eventually { receiver.taken.count == 1 }
                try await Task.sleep(for: .milliseconds(200))
                let forwarded = try #require(receiver.taken.first?.body)
                #expect(receiver.taken.count == 1)
                #expect(forwarded["type"] == "event" && forwarded["data"]?["name"] == "pay_order")
                #expect(forwarded["data"]?["event"]?["properties"]?["amount"] == 2000)
                #expect(arrayOf(forwarded["data"]?["profile"]?["identifiers"]?["user_id"]) == ["u-1"])

                // A filter that does not check is refused with what is wrong.
                let bad = try await client.execute(uri: "/api/automations", method: .post, headers: .admin, body: ByteBuffer(json: [
                    "name": "bad", "destination": "erp", "trigger": ["on": "event", "event": "pay_order", "where": "amount >= "],
                ]))
                #expect(bad.status == .unprocessableContent)
                #expect(bad.body.json["message"]?.stringValue?.contains("where") == true)
            }
        }
    }

    @Test func retryAfterIsHonouredAnd410DisablesTheDestination() async throws {
        let receiver = Receiver(secret: Self.secret)
        try await receiver.serve { port in
            try await withTagflow { client in
                let throttled = try await create(client, "throttled", url: "http://127.0.0.1:\(port)/hook/throttled")
                let gone = try await create(client, "gone", url: "http://127.0.0.1:\(port)/hook/gone")
                try await automate(client, "to-throttled", on: "tag.added", tag: "views", destination: throttled)
                try await automate(client, "to-gone", on: "tag.added", tag: "views", destination: gone)

                try await view(client, "u-1")

                // The throttled receiver said `Retry-After: 1`: the retry waits a second, not the 30 ms schedule.
                try await eventually { receiver.taken.count == 1 }
                let delay = try #require(receiver.delays.first)
                #expect(delay >= .milliseconds(900), "retried after \(delay)")
                // The gone one answered 410: it is disabled, with the reason, and its message waits.
                try await eventually { try await client.admin("/api/destinations/gone")["status"] == "disabled" }
                let disabled = try await client.admin("/api/destinations/gone")
                #expect(disabled["statusReason"]?.stringValue?.contains("410") == true)
                #expect(disabled["outbox"]?["pending"] == 1)
            }
        }
    }

    @Test func aDeadReceiverDoesNotDelayAHealthyOne() async throws {
        let receiver = Receiver(secret: Self.secret)
        try await receiver.serve { port in
            try await withTagflow { client in
                let slow = try await create(client, "slow", url: "http://127.0.0.1:\(port)/hook/slow", timeoutMs: 10_000)
                let healthy = try await create(client, "healthy", url: "http://127.0.0.1:\(port)/hook/ok")
                try await automate(client, "to-slow", on: "tag.changed", tag: "views", destination: slow)
                try await automate(client, "to-slow-added", on: "tag.added", tag: "views", destination: slow)
                try await automate(client, "to-healthy", on: "tag.added", tag: "views", destination: healthy)

                let started = ContinuousClock.now
                for user in (1...20).map({ "u-\($0)" }) { try await view(client, user) }

                // Every healthy delivery lands while the slow receiver is still sitting on its first requests (it
                // answers after 5 s: deliveries queued behind it would land later than that).
                try await eventually { receiver.taken.filter { $0.path == "ok" }.count == 20 }
                #expect(ContinuousClock.now - started < .milliseconds(4500))
                #expect(!receiver.taken.contains { $0.path == "slow" })
            }
        }
    }

    @Test func aRateLimitSpreadsRequestsAndABreakerRestsAFailingReceiver() async throws {
        let receiver = Receiver(secret: Self.secret)
        try await receiver.serve { port in
            try await withTagflow(breakerCooldownMs: 3000) { client in
                let limited = try await client.execute(uri: "/api/destinations", method: .post, headers: .admin, body: ByteBuffer(json: [
                    "name": "limited", "url": .string("http://127.0.0.1:\(port)/hook/ok"), "rateLimit": 10,
                ]))
                #expect(limited.status == .created && limited.body.json["rateLimit"] == 10)
                _ = try await create(client, "broken", url: "http://127.0.0.1:\(port)/hook/broken")
                try await automate(client, "to-limited", on: "tag.added", tag: "views", destination: "limited")
                try await automate(client, "to-broken", on: "tag.added", tag: "views", destination: "broken")

                let started = ContinuousClock.now
                for user in (1...20).map({ "u-\($0)" }) { try await view(client, user) }

                // 20 messages at 10 a second: a burst of 10, then the rest over about a second.
                try await eventually { receiver.taken.count == 20 }
                #expect(ContinuousClock.now - started >= .milliseconds(800))
                // The broken receiver failed 10 times in a row: it rests, instead of taking 20 x 4 attempts at once.
                let attempts = receiver.attempts.filter { id, _ in !receiver.taken.contains { $0.id == id } }.values.reduce(0, +)
                #expect(attempts < 40, "\(attempts) attempts reached the broken receiver")
            }
        }
    }

    @Test func givenUpMessagesAreDeadLetteredAndReplayed() async throws {
        let receiver = Receiver(secret: Self.secret)
        try await receiver.serve { port in
            try await withTagflow { client in
                let broken = try await create(client, "broken", url: "http://127.0.0.1:\(port)/hook/broken")
                try await automate(client, "to-broken", on: "tag.added", tag: "high_intent", destination: broken)
                try await view(client, "u-1")
                try await view(client, "u-1")

                // After the last attempt (the schedule has three waits) the message is a dead letter.
                try await eventually { !arrayOf(try await client.admin("/api/dead-letters")["deadLetters"]).isEmpty }
                let letter = try #require(arrayOf(try await client.admin("/api/dead-letters?destination=broken")["deadLetters"]).first)
                #expect(letter["attempts"] == 4 && letter["lastStatus"] == 500 && letter["type"] == "tag.added")

                // When the receiver is fixed and the letters replayed, it arrives, with the same webhook-id.
                let patched = try await client.execute(uri: "/api/destinations/broken", method: .patch, headers: .admin,
                                                       body: ByteBuffer(json: ["url": .string("http://127.0.0.1:\(port)/hook/ok")]))
                #expect(patched.status == .ok)
                let replay = try await client.execute(uri: "/api/dead-letters/replay", method: .post, headers: .admin,
                                                      body: ByteBuffer(json: ["destination": "broken"]))
                #expect(replay.body.json["replayed"] == 1)
                try await eventually { receiver.taken.count == 1 }
                #expect(receiver.taken.first?.id == letter["webhookID"]?.stringValue)
            }
        }
    }

    @Test func privateAddressesAreRefusedAndRedirectsNotFollowed() async throws {
        let receiver = Receiver(secret: Self.secret)
        try await receiver.serve { port in
            // Without the setting, loopback destinations are refused.
            try await withTagflow(allowPrivate: false) { client in
                let refused = try await client.execute(uri: "/api/destinations", method: .post, headers: .admin, body: ByteBuffer(json: [
                    "name": "local", "url": .string("http://127.0.0.1:\(port)/hook/ok"),
                ]))
                #expect(refused.status == .unprocessableContent)
                #expect(refused.body.json["message"]?.stringValue?.contains("private") == true)
            }
            try await withTagflow { client in
                let redirecting = try await create(client, "redirecting", url: "http://127.0.0.1:\(port)/hook/redirect")
                try await automate(client, "to-redirecting", on: "tag.added", tag: "views", destination: redirecting)
                try await view(client, "u-1")
                try await eventually {
                    arrayOf(try await client.admin("/api/destinations/redirecting/deliveries")["deliveries"]).first?["status"] == 302
                }
                #expect(receiver.taken.isEmpty)

                // A misspelt tag in a trigger is refused with a suggestion.
                let typo = try await client.execute(uri: "/api/automations", method: .post, headers: .admin, body: ByteBuffer(json: [
                    "name": "typo", "destination": "redirecting", "trigger": ["on": "tag.added", "tag": "veiws"],
                ]))
                #expect(typo.status == .unprocessableContent)
                #expect(typo.body.json["message"]?.stringValue?.contains("did you mean `views`?") == true)
            }
        }
    }

    @Test func aProfileThatWithdrewConsentIsNotSentToThatPurposesDestinations() async throws {
        let receiver = Receiver(secret: Self.secret)
        try await receiver.serve { port in
            try await withTagflow { client in
                // Given a CRM (no purpose) and an SMS gateway serving `marketing`, both told about every `views` change
                _ = try await create(client, "crm", url: "http://127.0.0.1:\(port)/hook/crm")
                let sms = try await client.execute(uri: "/api/destinations", method: .post, headers: .admin, body: ByteBuffer(json: [
                    "name": "sms", "url": .string("http://127.0.0.1:\(port)/hook/sms"), "purpose": "marketing",
                ]))
                #expect(sms.status == .created && sms.body.json["purpose"] == "marketing")
                for (name, on, destination) in [("a", "tag.added", "crm"), ("b", "tag.added", "sms"), ("c", "tag.changed", "sms")] {
                    try await automate(client, name, on: on, tag: "views", destination: destination)
                }

                // when u-1 withdrew marketing consent (an identify trait) and u-2 did not,
                let identify = try await client.collect("/v1/identify", ["userId": "u-1", "traits": ["consent": ["marketing": false]]])
                #expect(identify.status == .ok)
                try await view(client, "u-1")
                try await view(client, "u-2")

                // then the CRM hears of both, the SMS gateway only of u-2, and the skip is logged.
                try await eventually { receiver.taken.filter { $0.path == "crm" }.count == 2 }
                // (u-1's identify already gave it `views` = 0, and the view changed it to 1: two changes skipped)
                try await eventually { try await client.admin("/api/destinations/sms")["outbox"]?["skipped"] == 2 }
                #expect(receiver.taken.filter { $0.path == "sms" }.map(\.user) == ["u-2"])
                let log = arrayOf(try await client.admin("/api/destinations/sms/deliveries")["deliveries"])
                #expect(log.contains { $0["error"]?.stringValue?.contains("withdrew consent for `marketing`") == true })

                // And when u-1 gives consent again through the admin API, u-1's next change reaches it.
                let u1 = try #require(try await client.admin("/api/profiles/lookup?type=user_id&value=u-1")["id"])
                let given = try await client.execute(uri: "/api/profiles/\(u1.jsonString)/consent", method: .put, headers: .admin,
                                                     body: ByteBuffer(json: ["marketing": true]))
                #expect(given.body.json["consent"]?["marketing"] == true)
                try await view(client, "u-1")
                try await eventually { receiver.taken.filter { $0.path == "sms" }.count == 2 }
                #expect(receiver.taken.filter { $0.path == "sms" }.last?.user == "u-1")

                // And rules see consent given through the admin API like consent sent by a client.
                let rule = try await client.execute(uri: "/api/tags", method: .post, headers: .admin, body: ByteBuffer(json: [
                    "source": "tag no_marketing \"拒绝营销\"\n  when trait.consent.marketing = false",
                ]))
                #expect(rule.status == .ok)
                func tagged() async throws -> [JSONValue?] {
                    arrayOf(try await client.admin("/api/profiles/\(u1.jsonString)/tags")["tags"]).map { $0["tag"] }
                }
                #expect(try await !tagged().contains("no_marketing"))
                _ = try await client.execute(uri: "/api/profiles/\(u1.jsonString)/consent", method: .put, headers: .admin,
                                             body: ByteBuffer(json: ["marketing": false, "sms": true]))
                #expect(try await tagged().contains("no_marketing"))
                let traits = try await client.admin("/api/profiles/\(u1.jsonString)")["traits"]
                #expect(traits?["consent"]?["marketing"] == false && traits?["consent"]?["sms"] == true)
            }
        }
    }

    // MARK: - Helpers

    func withTagflow(
        allowPrivate: Bool = true, breakerCooldownMs: Int64? = nil,
        _ body: @Sendable @escaping (any TestClientProtocol) async throws -> Void
    ) async throws {
        let directory = TestDirectory()
        let tagflow = try await makeTestTagflow(directory) { config in
            config.allowPrivateDestinations = allowPrivate
            config.deliveryRetryWaitsMs = [30, 30, 30]
            config.deliveryBreakerCooldownMs = breakerCooldownMs
            config.durability = .normal
        }
        try await tagflow.application.test(.live) { client in
            let created = try await client.execute(uri: "/api/tags", method: .post, headers: .admin,
                                                   body: ByteBuffer(json: ["source": .string(Self.tags)]))
            #expect(created.status == .ok)
            try await body(client)
        }
    }

    func create(_ client: some TestClientProtocol, _ name: String, url: String, timeoutMs: Int64 = 1000) async throws -> String {
        let response = try await client.execute(uri: "/api/destinations", method: .post, headers: .admin, body: ByteBuffer(json: [
            "name": .string(name), "url": .string(url), "secret": .string(Self.secret), "timeoutMs": .int(timeoutMs),
        ]))
        #expect(response.status == .created, "\(response.body.text)")
        return name
    }

    func automate(_ client: some TestClientProtocol, _ name: String, on: String, tag: String, destination: String) async throws {
        let response = try await client.execute(uri: "/api/automations", method: .post, headers: .admin, body: ByteBuffer(json: [
            "name": .string(name), "destination": .string(destination), "trigger": ["on": .string(on), "tag": .string(tag)],
        ]))
        #expect(response.status == .created, "\(response.body.text)")
    }

    func view(_ client: some TestClientProtocol, _ user: String) async throws {
        let response = try await client.collect("/v1/track", ["userId": .string(user), "event": "view_item"])
        #expect(response.status == .ok)
    }
}
