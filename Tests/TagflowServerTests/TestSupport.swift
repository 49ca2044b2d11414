import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TagflowCore
import TagflowServer
import TagflowStore

/// A data directory that is removed when the test is done with it.
final class TestDirectory: Sendable {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("tagflow-test-\(UUID().uuidString)").path

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

let adminToken = "test-admin-token"
let writeKey = "test-write-key"

/// Builds a Tagflow the way `serve` does, on a fresh directory, with known credentials.
func makeTestTagflow(_ directory: TestDirectory, _ adjust: (inout TagflowConfig) -> Void = { _ in }) async throws -> Tagflow {
    var config = TagflowConfig()
    config.dataDirectory = directory.path
    config.port = 0
    config.adminToken = adminToken
    config.writeKey = writeKey
    adjust(&config)
    return try await makeTagflow(config)
}

extension HTTPFields {
    static var basicAuth: HTTPFields { [.authorization: "Basic " + Data("\(writeKey):".utf8).base64EncodedString()] }
    static var admin: HTTPFields { [.authorization: "Bearer \(adminToken)"] }
}

extension ByteBuffer {
    init(json: JSONValue) { self.init(bytes: json.jsonBytes) }

    var json: JSONValue { (try? JSONParser.parse(Array(buffer: self))) ?? .string(String(buffer: self)) }
    var text: String { String(buffer: self) }
}

extension TestClientProtocol {
    /// POSTs `body` to a collection path with the write key as HTTP Basic user.
    func collect(_ path: String, _ body: JSONValue, headers: HTTPFields = .basicAuth) async throws -> TestResponse {
        try await execute(uri: path, method: .post, headers: headers, body: ByteBuffer(json: body))
    }

    /// GETs an admin path and returns the JSON answer.
    func admin(_ path: String) async throws -> JSONValue {
        try await execute(uri: path, method: .get, headers: .admin).body.json
    }
}

func arrayOf(_ value: JSONValue?) -> [JSONValue] {
    if case .array(let elements)? = value { return elements }
    return []
}
