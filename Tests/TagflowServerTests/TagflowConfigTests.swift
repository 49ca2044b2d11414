import Foundation
import Testing

@testable import TagflowServer
import TagflowCore
import TagflowStore

@Suite struct TagflowConfigTests {
    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tagflow-\(UUID().uuidString).json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func aConfigFileSetsWhatItNamesAndLeavesTheRestAtDefaults() throws {
        let path = try write(#"{"port": 9090, "durability": "normal", "identityLimits": {"phone": 1}, "blockedIdentifierValues": ["Guest"]}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }

        let config = try TagflowConfig.load(file: path)

        #expect(config.port == 9090)
        #expect(config.durability == .normal)
        #expect(config.host == "127.0.0.1")
        #expect(config.maxEventBytes == 32 * 1024)
        #expect(config.identityPolicy.limit(of: "phone") == 1)
        #expect(config.identityPolicy.limit(of: "user_id") == 1)
        #expect(config.identityPolicy.isJunk("guest"))
    }

    @Test func aMisspelledSettingIsRefusedByName() throws {
        let path = try write(#"{"prot": 9090}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }

        #expect { try TagflowConfig.load(file: path) } throws: { error in
            "\(error)".contains("unknown setting \"prot\"")
        }
    }

    @Test func aWrongTypeOrMissingFileIsAClearError() throws {
        let path = try write(#"{"port": "eighty"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ConfigError.self) { try TagflowConfig.load(file: path) }
        #expect { try TagflowConfig.load(file: "/nonexistent/tagflow.json") } throws: { "\($0)".contains("cannot read") }
    }

    @Test func aDeliveryRetentionUnderAnHourIsRefusedWithTheValue() throws {
        let path = try write(#"{"deliveryRetentionHours": 0}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { try TagflowConfig.load(file: path) } throws: { "\($0)".contains("`deliveryRetentionHours` must be at least 1 (0 given)") }
        let kept = try write(#"{"deliveryRetentionHours": 24}"#)
        defer { try? FileManager.default.removeItem(atPath: kept) }
        #expect(try TagflowConfig.load(file: kept).deliveryRetentionHours == 24)
    }

    @Test func theEnvironmentBootstrapsCredentialsUnlessTheFileSetsThem() {
        var config = TagflowConfig()
        config.applyEnvironment(["TAGFLOW_ADMIN_TOKEN": "env-token", "TAGFLOW_WRITE_KEY": "env-key"])
        #expect(config.adminToken == "env-token")
        #expect(config.writeKey == "env-key")

        var configured = TagflowConfig()
        configured.adminToken = "file-token"
        configured.applyEnvironment(["TAGFLOW_ADMIN_TOKEN": "env-token"])
        #expect(configured.adminToken == "file-token")
    }

    @Test func aPortAnotherTagflowHoldsIsAClearError() async throws {
        // Given a Tagflow listening
        let first = TestDirectory()
        let second = TestDirectory()
        let running = try await makeTestTagflow(first)
        try await running.whileServing { port in
            // when a second one is started on its port
            let late = try await makeTestTagflow(second) { $0.port = port }
            let error = await #expect(throws: ConfigError.self) { try await late.whileServing { _ in } }

            // then it is refused with the address and what to do, not a socket call's errno.
            #expect(error?.description.contains("127.0.0.1:\(port) is already in use") == true, "\(String(describing: error))")
            #expect(error?.description.contains("--port") == true)
            try late.store.close()
        }
    }
}
