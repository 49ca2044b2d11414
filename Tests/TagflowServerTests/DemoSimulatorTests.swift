import Foundation
import HummingbirdTesting
import Testing

@testable import TagflowCore
@testable import TagflowServer
import TagflowStore

@Suite struct DemoSimulatorTests {
    @Test func theSimulatorPlaysJourneysThroughTheRealAPI() async throws {
        let directory = TestDirectory()
        let tagflow = try await makeTestTagflow(directory)
        var keys: [String: String] = [:]
        for touchpoint in DemoSimulator.touchpoints + ["store"] {
            keys[touchpoint] = try await tagflow.store.createSource(name: touchpoint, at: 1).writeKey
        }
        let writeKeys = keys
        try await tagflow.application.test(.live) { client in
            let port = try #require(client.port)
            let simulator = DemoSimulator(baseURL: "http://127.0.0.1:\(port)", writeKeys: writeKeys, rate: 4000, seed: 1)

            let sent = try await simulator.run(limit: 1500)

            let stats = try await tagflow.store.stats()
            #expect(stats.eventsAccepted == Int64(sent))
            #expect(stats.eventsQuarantined == 0)
            #expect(stats.profiles > 10)
            #expect(stats.mergesAccepted > 0, "returning customers on a new device are merged")
            let events = try await tagflow.store.events(after: 0, limit: 1000)
            let names = Set(events.compactMap(\.name))
            #expect(names.isSuperset(of: ["view_item", "click_book", "submit_form"]))
            #expect(events.contains { $0.payload["context"]?["campaign"]?["source"] == "douyin" })
            #expect(events.contains { $0.payload["properties"]?["project"] == "玻尿酸" })
            let identified = try #require(events.first { $0.type == "identify" })
            let profile = try #require(try await tagflow.store.profile(id: identified.profileId))
            #expect(profile.identifiers.contains { $0.type == "phone" })
            #expect(profile.identifiers.contains { $0.type == "anonymous_id" })
        }
    }
}
