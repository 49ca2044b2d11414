import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TagflowCore
import TagflowStore

/// The Segment-compatible collection API: `/v1/{track,identify,page,screen,group,alias,batch}` and the
/// one-letter aliases that analytics.js uses.
struct CollectRoutes: Sendable {
    let store: SQLiteStore
    let queue: IngestQueue
    let normalizer: MessageNormalizer

    func register(on router: Router<BasicRequestContext>) {
        let group = router.group("v1")
            .add(middleware: CORSMiddleware(
                allowOrigin: .originBased,
                allowHeaders: [.accept, .authorization, .contentType, .contentEncoding, .origin],
                allowMethods: [.post, .options], maxAge: .seconds(3600)))
        group.post(":kind") { request, context in try await collect(request, context: context) }
        // CORS preflight: the middleware answers it, the route only has to exist.
        group.on(":kind", method: .options) { _, _ in Response(status: .noContent) }
    }

    static let success = ByteBuffer(string: #"{"success":true}"#)

    func collect(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let kind = context.parameters.get("kind") ?? ""
        let isBatch = kind == "batch" || kind == "b"
        let pathType = isBatch ? nil : EventType(path: kind)
        guard isBatch || pathType != nil else {
            throw APIError(.notFound, "unknown_path",
                           "no such endpoint /v1/\(kind); use track, identify, page, screen, group, alias or batch")
        }
        let receivedAt = nowMillis()
        let limit = normalizer.limits.maxRequestBytes
        var body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(.badRequest, "request_too_large", "the request body is over \(limit) bytes")
        }
        let bytes = try Self.inflateIfNeeded(&body, headers: request.headers, limit: limit)
        let messages = try Self.messages(in: bytes, isBatch: isBatch, limits: normalizer.limits)
        let source = try await authenticate(request.headers, bodyWriteKey: messages.writeKey)
        let (events, rejections) = Self.normalize(
            messages, pathType: pathType, receivedAt: receivedAt, sourceName: source.name, normalizer: normalizer)
        let submission = IngestSubmission(sourceID: source.id, receivedAt: receivedAt, events: events, rejections: rejections)
        do {
            _ = try await queue.submit(submission)
        } catch IngestQueueError.saturated {
            throw APIError(.tooManyRequests, "too_many_requests", "the write path is saturated; retry after 1 second",
                           headers: [.retryAfter: "1", HTTPField.Name("X-RateLimit-Reset")!: "1"])
        } catch IngestQueueError.closed {
            throw APIError(.serviceUnavailable, "shutting_down", "Tagflow is shutting down; retry shortly",
                           headers: [.retryAfter: "2"])
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: Self.success))
    }

    /// A request body's messages, what its batch envelope shares with them, and the write key it carries.
    struct Messages {
        var items: [JSONValue]
        var envelope = Envelope()
        var writeKey: String?
    }

    /// Reads a request body: one message, or a batch (an object with a `batch` array, or a bare array).
    static func messages(in bytes: [UInt8], isBatch: Bool, limits: IngestLimits) throws -> Messages {
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw APIError(.badRequest, "invalid_json", "the request body is not valid JSON: \(error)")
        }
        guard isBatch else { return Messages(items: [document], writeKey: document["writeKey"]?.stringValue) }
        var messages: Messages
        switch document {
        case .array(let array): messages = Messages(items: array)
        case .object(let object):
            guard case .array(let array)? = object["batch"] else {
                throw APIError(.badRequest, "invalid_batch", "a batch body needs a `batch` array of messages")
            }
            messages = Messages(
                items: array,
                envelope: Envelope(sentAt: object["sentAt"], context: object["context"]?.objectValue,
                                   integrations: object["integrations"]?.objectValue),
                writeKey: object["writeKey"]?.stringValue)
        default:
            throw APIError(.badRequest, "invalid_batch", "a batch body must be an object with a `batch` array")
        }
        guard messages.items.count <= limits.maxBatchEvents else {
            throw APIError(.badRequest, "batch_too_large",
                           "the batch has \(messages.items.count) messages; the limit is \(limits.maxBatchEvents)")
        }
        if messages.writeKey == nil { messages.writeKey = messages.items.lazy.compactMap { $0["writeKey"]?.stringValue }.first }
        return messages
    }

    /// Each message as an event, or as a rejection kept with its payload for the quarantine.
    static func normalize(
        _ messages: Messages, pathType: EventType?, receivedAt: EpochMillis, sourceName: String, normalizer: MessageNormalizer
    ) -> (events: [Event], rejections: [QuarantinedMessage]) {
        var events: [Event] = []
        var rejections: [QuarantinedMessage] = []
        events.reserveCapacity(messages.items.count)
        for (position, item) in messages.items.enumerated() {
            var message = item
            if case .object(var object) = message, object["writeKey"] != nil {
                object["writeKey"] = nil
                message = .object(object)
            }
            switch normalizer.normalize(message, position: position, pathType: pathType, envelope: messages.envelope,
                                        receivedAt: receivedAt, sourceName: sourceName) {
            case .success(let event): events.append(event)
            case .failure(let rejection): rejections.append(QuarantinedMessage(rejection: rejection, payload: message))
            }
        }
        return (events, rejections)
    }

    /// The body as bytes, gunzipped when it says (or looks) so; never more than `limit` bytes out.
    static func inflateIfNeeded(_ body: inout ByteBuffer, headers: HTTPFields, limit: Int) throws -> [UInt8] {
        let encoding = headers[.contentEncoding]?.lowercased() ?? ""
        let looksGzipped = body.readableBytes >= 2 && body.getInteger(at: body.readerIndex, as: UInt16.self) == 0x1F8B
        guard encoding.contains("gzip") || encoding.contains("deflate") || looksGzipped else {
            return Array(buffer: body)
        }
        do {
            let algorithm: CompressionAlgorithm = encoding.contains("deflate") && !looksGzipped ? .zlib() : .gzip()
            let inflated = try body.decompress(with: algorithm, maxSize: limit)
            return Array(buffer: inflated)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw APIError(.badRequest, "request_too_large", "the request body inflates to over \(limit) bytes")
        } catch {
            throw APIError(.badRequest, "invalid_gzip", "the request body is not valid gzip data: \(error)")
        }
    }

    /// The source of the write key in the Basic auth header (user part) or, failing that, in the body.
    func authenticate(_ headers: HTTPFields, bodyWriteKey: String?) async throws -> Source {
        var key = bodyWriteKey
        if let authorization = headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "basic",
               let decoded = Data(base64Encoded: String(parts[1])).flatMap({ String(data: $0, encoding: .utf8) }) {
                let user = decoded.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
                if let user, !user.isEmpty { key = user }
            }
        }
        guard let key, !key.isEmpty else {
            throw APIError(.unauthorized, "missing_write_key",
                           "no write key: send it as the HTTP Basic user or as `writeKey` in the body")
        }
        guard let source = try await store.source(writeKey: key) else {
            throw APIError(.unauthorized, "invalid_write_key", "the write key is unknown or revoked")
        }
        return source
    }
}
