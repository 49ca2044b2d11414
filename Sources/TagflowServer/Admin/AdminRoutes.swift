import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TagflowCore
import TagflowStore

/// Requires `Authorization: Bearer <admin token>` on the admin API.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let store: SQLiteStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw APIError(.unauthorized, "missing_admin_token", "send the admin token as `Authorization: Bearer <token>`")
        }
        let token = String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        guard try await store.adminRole(token: token) != nil else {
            throw APIError(.unauthorized, "invalid_admin_token", "the admin token is unknown or revoked")
        }
        return try await next(request, context)
    }
}

/// The admin REST API under `/api`: sources, profiles, the event log, quarantine and stats.
struct AdminRoutes: Sendable {
    let store: SQLiteStore
    let queue: IngestQueue
    let normalizer: MessageNormalizer
    let sender: WebhookSender

    func register(on router: Router<BasicRequestContext>) {
        let api = router.group("api").add(middleware: AdminAuthMiddleware(store: store))

        // Prometheus scrapes with the admin token (`authorization: {credentials: <token>}` in its config).
        router.group("metrics").add(middleware: AdminAuthMiddleware(store: store)).get { _, _ in
            let page = MetricsPage.render(
                stats: try await store.stats(), queueWaiting: queue.waitingEvents,
                writer: WriterTime(commits: queue.commitCounters.cpu, tagEngine: store.tagEngineCPUTime),
                tags: try await store.tagDefinitions(),
                segments: try store.segmentDefinitions(), destinations: try store.deliveryMetrics())
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: page)))
        }

        TagRoutes(store: store).register(on: api)
        SegmentRoutes(store: store).register(on: api)
        DeliveryRoutes(store: store, sender: sender).register(on: api)

        api.get("stats") { _, _ in
            let stats = try await store.stats()
            return try JSONResponse.make(StatsBody(stats: stats, ingestQueueWaiting: queue.waitingEvents))
        }

        api.get("sources") { _, _ in try JSONResponse.make(["sources": try await store.sources()]) }
        api.post("sources") { request, context in
            let body = try await Self.jsonObject(request)
            guard let name = body["name"]?.stringValue else {
                throw APIError.badRequest("a source needs a string `name`")
            }
            let writeKey = body["writeKey"]?.stringValue
            do {
                return try JSONResponse.make(try await store.createSource(name: name, writeKey: writeKey, at: nowMillis()),
                                             status: .created)
            } catch let error as StoreError {
                throw error.apiError
            }
        }
        api.delete("sources/:id") { _, context in
            let id = try Self.integer(context, "id")
            do {
                return try JSONResponse.make(try await store.revokeSource(id: id, at: nowMillis()))
            } catch let error as StoreError {
                throw error.apiError
            }
        }

        api.get("profiles/lookup") { request, _ in
            guard let type = request.uri.queryParameters["type"].map(String.init),
                  let value = request.uri.queryParameters["value"].map(String.init)
            else {
                throw APIError.badRequest("give both `type` and `value`, e.g. ?type=phone&value=13800138000")
            }
            guard let id = try await store.lookup(Identifier(type, Self.normalized(type: type, value: value))),
                  let profile = try await store.profile(id: id)
            else { throw APIError.notFound("a profile with \(type) \(value)") }
            return try await profileWithEvents(profile, request)
        }
        api.get("profiles/:id") { request, context in
            let id = ProfileID(try Self.integer(context, "id"))
            guard let profile = try await store.profile(id: id) else { throw APIError.notFound("profile \(id)") }
            return try await profileWithEvents(profile, request)
        }
        api.get("profiles/:id/events") { request, context in
            let id = ProfileID(try Self.integer(context, "id"))
            guard let profile = try await store.profile(id: id) else { throw APIError.notFound("profile \(id)") }
            let limit = try Self.limit(request)
            var before: (EpochMillis, Int64)?
            if let cursor = request.uri.queryParameters["before"] {
                let parts = cursor.split(separator: ":")
                guard parts.count == 2, let ts = Int64(parts[0]), let seq = Int64(parts[1]) else {
                    throw APIError.badRequest("`before` must be the `next` cursor of the previous page")
                }
                before = (ts, seq)
            }
            let events = try await store.timeline(of: profile.id, before: before, limit: limit)
            return try JSONResponse.make(TimelineBody(events: events, limit: limit))
        }
        api.get("merges") { _, _ in try JSONResponse.make(["merges": try await store.recentMerges()]) }

        api.get("events") { request, _ in
            let after = Int64(request.uri.queryParameters["after"].map(String.init) ?? "0") ?? 0
            return try JSONResponse.make(["events": try await store.events(after: after, limit: try Self.limit(request))])
        }

        api.get("quarantine") { request, _ in
            let status = request.uri.queryParameters["status"].map(String.init) ?? "pending"
            let after = Int64(request.uri.queryParameters["after"].map(String.init) ?? "0") ?? 0
            let entries = try await store.quarantine(status: status == "all" ? nil : status, after: after,
                                                     limit: try Self.limit(request))
            return try JSONResponse.make(["entries": entries])
        }
        api.get("quarantine/:id") { _, context in
            let id = try Self.integer(context, "id")
            guard let entry = try await store.quarantineEntry(id: id) else { throw APIError.notFound("quarantine entry \(id)") }
            return try JSONResponse.make(entry)
        }
        api.post("quarantine/:id/discard") { _, context in
            let id = try Self.integer(context, "id")
            do {
                try await store.discardQuarantined(id: id, at: nowMillis())
            } catch let error as StoreError {
                throw error.apiError
            }
            return try JSONResponse.make(try await store.quarantineEntry(id: id))
        }
        api.post("quarantine/:id/replay") { request, context in
            try await replay(request, id: try Self.integer(context, "id"))
        }
    }

    /// A profile as found, by number or by identifier: with the first page of its events (newest first).
    private func profileWithEvents(_ profile: ProfileView, _ request: Request) async throws -> Response {
        let limit = try Self.limit(request)
        let events = try await store.timeline(of: profile.id, before: nil, limit: limit)
        return try JSONResponse.make(ProfileBody(profile: profile, events: events, limit: limit))
    }

    /// Replays a quarantined message, as it was or as corrected in the request body.
    func replay(_ request: Request, id: Int64) async throws -> Response {
        guard let entry = try await store.quarantineEntry(id: id) else { throw APIError.notFound("quarantine entry \(id)") }
        guard entry.status == "pending" else {
            throw APIError(.conflict, "already_resolved", "quarantine entry \(id) is already \(entry.status)")
        }
        let body = try await request.body.collect(upTo: normalizer.limits.maxRequestBytes)
        var message = entry.payload
        if body.readableBytes > 0 {
            do {
                message = try JSONParser.parse(Array(buffer: body))
            } catch {
                throw APIError(.badRequest, "invalid_json", "the corrected message is not valid JSON: \(error)")
            }
        }
        let source = try await store.sources().first { $0.id == entry.sourceId }
        let receivedAt = Timestamp.parse(entry.receivedAt) ?? nowMillis()
        switch normalizer.normalize(message, position: 0, pathType: nil, envelope: Envelope(), receivedAt: receivedAt,
                                    sourceName: source?.name ?? "replay") {
        case .failure(let rejection):
            throw APIError(.unprocessableContent, rejection.code,
                           "the message is still invalid: \(rejection.message)" + (rejection.field.map { " (field `\($0)`)" } ?? ""))
        case .success(let event):
            let receipt = try await queue.submit(IngestSubmission(sourceID: entry.sourceId ?? 0, receivedAt: receivedAt,
                                                                  events: [event], replayOf: id))
            if receipt.deduplicated > 0 { try await store.discardQuarantined(id: id, at: nowMillis()) }
            return try JSONResponse.make(try await store.quarantineEntry(id: id))
        }
    }

    static func jsonObject(_ request: Request) async throws -> JSONObject {
        let body = try await request.body.collect(upTo: 1 << 20)
        guard case .object(let object) = try? JSONParser.parse(Array(buffer: body)) else {
            throw APIError.badRequest("the request body must be a JSON object")
        }
        return object
    }

    static func integer(_ context: BasicRequestContext, _ name: String) throws -> Int64 {
        guard let raw = context.parameters.get(name), let value = Int64(raw) else {
            throw APIError.badRequest("`\(name)` must be an integer")
        }
        return value
    }

    static func limit(_ request: Request) throws -> Int {
        guard let raw = request.uri.queryParameters["limit"] else { return 50 }
        guard let value = Int(raw), (1...1000).contains(value) else {
            throw APIError.badRequest("`limit` must be an integer from 1 to 1000")
        }
        return value
    }

    /// Lookups accept identifiers as people type them: phones and emails are normalised like incoming ones.
    static func normalized(type: String, value: String) -> String {
        switch type {
        case Identifier.phone: IdentifierExtraction.normalizedPhone(value) ?? value
        case Identifier.email: IdentifierExtraction.normalizedEmail(value) ?? value
        default: value
        }
    }
}

struct StatsBody: Encodable {
    var stats: StoreStats
    var ingestQueueWaiting: Int

    func encode(to encoder: any Encoder) throws {
        try stats.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(ingestQueueWaiting, forKey: .ingestQueueWaiting)
    }

    enum Key: String, CodingKey { case ingestQueueWaiting }
}

struct ProfileBody: Encodable {
    var profile: ProfileView
    var events: [StoredEvent]
    var limit: Int

    func encode(to encoder: any Encoder) throws {
        try profile.encode(to: encoder)
        try TimelineBody(events: events, limit: limit).encode(to: encoder)
    }
}

struct TimelineBody: Encodable {
    var events: [StoredEvent]
    var limit: Int

    enum Key: String, CodingKey { case events, next }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(events, forKey: .events)
        if events.count == limit, let last = events.last, let ts = Timestamp.parse(last.timestamp) {
            try container.encode("\(ts):\(last.seq)", forKey: .next)
        } else {
            try container.encodeNil(forKey: .next)
        }
    }
}

extension StoreError {
    var apiError: APIError {
        switch self {
        case .notFound(let what): APIError.notFound(what)
        case .conflict(let what): APIError(.conflict, "conflict", what)
        case .invalid(let what): APIError.badRequest(what)
        }
    }
}
