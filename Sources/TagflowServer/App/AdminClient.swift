import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TagflowCore

/// A small client of the admin API, for the CLI.
public struct AdminClient: Sendable {
    public var baseURL: String
    public var token: String

    public init(baseURL: String, token: String) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
    }

    public func get(_ path: String) async throws -> JSONValue { try await send(.GET, path) }
    public func post(_ path: String, body: JSONValue) async throws -> JSONValue { try await send(.POST, path, body: body) }
    public func delete(_ path: String) async throws -> JSONValue { try await send(.DELETE, path) }

    /// Sends a request and returns the JSON answer; non-2xx answers throw with the server's message.
    public func send(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil) async throws -> JSONValue {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body.jsonBytes))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let value = (try? JSONParser.parse(Array(buffer: bytes))) ?? .null
        guard (200..<300).contains(response.status.code) else {
            throw Failure(status: Int(response.status.code), body: value,
                          description: "\(method) \(path) answered \(response.status.code): \(value["message"]?.stringValue ?? value.jsonString)")
        }
        return value
    }

    /// Sends a GET and hands the answer's body to `write` piece by piece as it arrives (exports).
    public func download(_ path: String, _ write: (ByteBuffer) throws -> Void) async throws {
        var request = HTTPClientRequest(url: baseURL + path)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await HTTPClient.shared.execute(request, timeout: .hours(1))
        guard (200..<300).contains(response.status.code) else {
            let value = (try? JSONParser.parse(Array(buffer: try await response.body.collect(upTo: 1 << 20)))) ?? .null
            throw Failure(status: Int(response.status.code), body: value,
                          description: "GET \(path) answered \(response.status.code): \(value["message"]?.stringValue ?? value.jsonString)")
        }
        for try await piece in response.body { try write(piece) }
    }

    /// A non-2xx answer: its status and JSON body (a tag plan's diagnostics, an error's message).
    public struct Failure: Error, CustomStringConvertible {
        public var status: Int
        public var body: JSONValue
        public var description: String
    }
}
