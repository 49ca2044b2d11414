import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import TagflowCore
@testable import TagflowServer

/// `kill -9` while webhooks are pending and failing: after a restart every change arrives at least once, in
/// order per person, and a receiver that drops duplicates by `webhook-id` sees each exactly once.
@Suite(.serialized) struct DeliveryCrashTests {
    @Test func killNineWhileDeliveringLosesNothingAndKeepsEachPersonsOrder() async throws {
        let directory = TestDirectory()
        let receiver = Receiver(secret: DeliveryTests.secret)
        let configFile = directory.path + "-config.json"
        try #"{"allowPrivateDestinations": true, "deliveryRetryWaitsMs": [40, 80, 160, 320, 640, 1000, 1000, 1000, 1000, 1000], "deliveryBreakerCooldownMs": 500}"#
            .write(toFile: configFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: configFile) }
        let users = (1...10).map { "u-\($0)" }
        let rounds = 8

        try await receiver.serve { port in
            do {
                // Given a receiver that fails a third of the attempts, and an automation on every `views` change
                let server = try ChildServer(data: directory.path, arguments: ["--config", configFile])
                let admin = Admin(url: server.baseURL)
                try await admin.post("/api/tags", ["source": "tag views\n  value count(view_item)"])
                try await admin.post("/api/destinations", [
                    "name": "ma", "url": .string("http://127.0.0.1:\(port)/hook/sometimes"), "secret": .string(DeliveryTests.secret),
                ])
                for on in ["tag.added", "tag.changed"] {
                    try await admin.post("/api/automations", ["name": .string(on), "destination": "ma", "trigger": ["on": .string(on), "tag": "views"]])
                }

                // when people view while deliveries run and fail, and Tagflow is killed in the middle,
                for _ in 0..<rounds {
                    let batch: JSONValue = ["batch": .array(users.map { ["type": "track", "event": "view_item", "userId": .string($0)] })]
                    #expect(try await post(ByteBuffer(bytes: batch.jsonBytes), to: server.baseURL) == 200)
                }
                try await Task.sleep(for: .milliseconds(60))
                #expect(receiver.taken.count < users.count * rounds, "everything was delivered before the kill")
                server.kill(SIGKILL)
            }

            // then after a restart, every change arrives, each exactly once after de-duplication, in order.
            let restarted = try ChildServer(data: directory.path, arguments: ["--config", configFile])
            try await eventually(seconds: 30) { Set(receiver.taken.map(\.id)).count == users.count * rounds }
            var seen = Set<String>()
            let firsts = receiver.taken.filter { seen.insert($0.id).inserted }
            for user in users {
                let values = firsts.filter { $0.user == user }.map { $0.body["data"]?["new"] }
                #expect(values == (1...rounds).map { .int(Int64($0)) }, "\(user): \(values)")
            }
            #expect(receiver.taken.allSatisfy { $0.signed })
            _ = restarted
        }
    }
}

/// Admin API calls to a child server.
struct Admin {
    let url: String

    @discardableResult
    func post(_ path: String, _ body: JSONValue) async throws -> JSONValue {
        var request = HTTPClientRequest(url: url + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(adminToken)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body.jsonBytes))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let answer = (try? JSONParser.parse(Array(buffer: try await response.body.collect(upTo: 1 << 20)))) ?? .null
        #expect((200..<300).contains(response.status.code), "\(path): \(answer)")
        return answer
    }
}
