import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TagflowCore

/// An error answered as `{"code": …, "message": …}`, the shape Segment's clients parse.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        let body: JSONValue = ["code": .string(code), "message": .string(message)]
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body.jsonBytes)))
    }

    static func notFound(_ what: String) -> APIError { APIError(.notFound, "not_found", "\(what) does not exist") }
    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "invalid_request", message) }
}

/// Answers a request no route takes as an API error naming its method and path (the router's own answer
/// was a 404 with no body: a client could not tell a mistyped path from a missing profile).
struct UnknownEndpointMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && error.body == nil {
            throw APIError(.notFound, "not_found", "no endpoint `\(request.method) \(request.uri.path)`; see docs/api.md")
        }
    }
}

/// Encodes admin API answers, keys in order (an object's keys, a profile's traits among them, came out in the
/// order of a hash otherwise, different from one answer to the next).
enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
