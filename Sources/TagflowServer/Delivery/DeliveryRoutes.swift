import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TagflowCore
import TagflowStore

/// The delivery API: destinations (where changes go, signed), automations (which changes go where), the
/// per-destination attempt log, dead letters and their replay, and a test send.
struct DeliveryRoutes: Sendable {
    let store: SQLiteStore
    let sender: WebhookSender

    func register(on api: RouterGroup<BasicRequestContext>) {
        api.get("destinations") { _, _ in try JSONResponse.make(["destinations": try store.destinations()]) }
        api.post("destinations") { request, _ in
            let input = try await destinationInput(request)
            return try run { try JSONResponse.make(try store.createDestination(input, now: nowMillis()), status: .created) }
        }
        api.get("destinations/:id") { _, context in
            let key = try TagRoutes.tagID(context)
            return try run {
                var body = try JSONValue.encoded(try store.destination(key))
                if case .object(var object) = body {
                    object["outbox"] = .object(JSONObject(try store.outboxCounts(destination: key).sorted { $0.key < $1.key }
                        .map { JSONField($0.key, .int(Int64($0.value))) }))
                    body = .object(object)
                }
                return try JSONResponse.make(body)
            }
        }
        api.patch("destinations/:id") { request, context in
            let key = try TagRoutes.tagID(context)
            let input = try await destinationInput(request)
            return try run { try JSONResponse.make(try store.updateDestination(key, input, now: nowMillis())) }
        }
        api.delete("destinations/:id") { _, context in
            let key = try TagRoutes.tagID(context)
            try run { try store.deleteDestination(key) }
            return Response(status: .noContent)
        }
        api.post("destinations/:id/disable") { _, context in
            let key = try TagRoutes.tagID(context)
            return try run { try JSONResponse.make(try store.setDestination(key, active: false, reason: "disabled by an operator", now: nowMillis())) }
        }
        api.post("destinations/:id/enable") { _, context in
            let key = try TagRoutes.tagID(context)
            return try run { try JSONResponse.make(try store.setDestination(key, active: true, reason: nil, now: nowMillis())) }
        }
        api.post("destinations/:id/rotate-secret") { _, context in
            let key = try TagRoutes.tagID(context)
            return try run { try JSONResponse.make(try store.rotateSecret(key, now: nowMillis())) }
        }
        // Sends a `tagflow.test` event now (signed like any other; not kept in the outbox) and says how it went.
        api.post("destinations/:id/test") { _, context in
            let key = try TagRoutes.tagID(context)
            let destination = try run { try store.destination(key) }
            let now = nowMillis()
            let body: JSONValue = [
                "type": "tagflow.test", "timestamp": .string(Timestamp.format(now)),
                "data": ["destination": .string(destination.name)],
            ]
            let outcome = await sender.send(id: "msg_test_\(now)", body: body.jsonString, to: destination, now: now)
            return try JSONResponse.make(TestSendBody(
                delivered: outcome.succeeded, status: outcome.status, latencyMs: outcome.latencyMs, error: outcome.error))
        }
        api.get("destinations/:id/deliveries") { request, context in
            let key = try TagRoutes.tagID(context)
            let limit = try AdminRoutes.limit(request)
            let before = request.uri.queryParameters["before"].flatMap { Int64(String($0)) }
            let attempts = try run { try store.deliveryAttempts(destination: key, before: before, limit: limit) }
            return try JSONResponse.make(AttemptsBody(deliveries: attempts, next: attempts.count == limit ? attempts.last?.id : nil))
        }

        // Consent given or withdrawn per purpose: {"marketing": false}.
        api.put("profiles/:id/consent") { request, context in
            let id = ProfileID(try AdminRoutes.integer(context, "id"))
            let body = try await TagRoutes.body(request)
            guard !body.isEmpty else { throw APIError.badRequest("send purposes with true or false: {\"marketing\": false}") }
            let purposes = try Dictionary(body.fields.map { field -> (String, Bool) in
                guard case .bool(let granted) = field.value else {
                    throw APIError.badRequest("consent for `\(field.key)` must be true or false")
                }
                return (field.key, granted)
            }, uniquingKeysWith: { _, b in b })
            do {
                return try JSONResponse.make(["consent": JSONValue.object(try store.setConsent(purposes, of: id, now: nowMillis()))])
            } catch let error as StoreError {
                throw error.apiError
            }
        }

        api.get("automations") { _, _ in try JSONResponse.make(["automations": try store.automations()]) }
        api.post("automations") { request, _ in
            let body = try await TagRoutes.body(request)
            guard let name = body["name"]?.stringValue, !name.isEmpty else { throw APIError.badRequest("give the automation a `name`") }
            guard let destination = Self.key(body["destination"]) else {
                throw APIError.badRequest("give `destination`: its name or number")
            }
            guard case .object(let trigger)? = body["trigger"], let on = trigger["on"]?.stringValue else {
                throw APIError.badRequest("give `trigger`: {\"on\": \"tag.added\", \"tag\": \"high_intent\"} "
                    + "(on: \(AutomationTrigger.kinds.joined(separator: ", ")))")
            }
            let parsed = AutomationTrigger(on: on, tag: trigger["tag"]?.stringValue, segment: trigger["segment"]?.stringValue,
                                           value: trigger["value"], event: trigger["event"]?.stringValue,
                                           condition: trigger["where"]?.stringValue)
            return try run {
                try JSONResponse.make(try store.createAutomation(name: name, trigger: parsed, destination: destination, now: nowMillis()),
                                      status: .created)
            }
        }
        api.post("automations/:id/disable") { _, context in
            let id = try AdminRoutes.integer(context, "id")
            return try run { try JSONResponse.make(try store.setAutomation(id, enabled: false)) }
        }
        api.post("automations/:id/enable") { _, context in
            let id = try AdminRoutes.integer(context, "id")
            return try run { try JSONResponse.make(try store.setAutomation(id, enabled: true)) }
        }
        api.delete("automations/:id") { _, context in
            let id = try AdminRoutes.integer(context, "id")
            try run { try store.deleteAutomation(id) }
            return Response(status: .noContent)
        }

        api.get("dead-letters") { request, _ in
            let limit = try AdminRoutes.limit(request)
            let before = request.uri.queryParameters["before"].flatMap { Int64(String($0)) }
            let destination = request.uri.queryParameters["destination"].map(String.init)
            let letters = try run { try store.deadLetters(destination: destination, before: before, limit: limit) }
            return try JSONResponse.make(DeadLettersBody(deadLetters: letters.map(DeadLetter.init), next: letters.count == limit ? letters.last?.id : nil))
        }
        // Replays one (`ids`), a destination's (`destination`), or every dead letter (`all: true`).
        api.post("dead-letters/replay") { request, _ in
            let body = try await TagRoutes.body(request)
            var ids: [Int64]?
            if case .array(let items)? = body["ids"] {
                ids = try items.map { item in
                    guard case .int(let id) = item else { throw APIError.badRequest("`ids` are outbox message numbers") }
                    return id
                }
            }
            let destination = Self.key(body["destination"])
            guard ids != nil || destination != nil || TagRoutes.flag(body["all"]) else {
                throw APIError.badRequest("say which: `ids`, `destination`, or `all: true`")
            }
            let count = try run { try store.replayDeadLetters(ids: ids, destination: destination, now: nowMillis()) }
            return try JSONResponse.make(["replayed": count])
        }
    }

    private func destinationInput(_ request: Request) async throws -> DestinationInput {
        let body = try await TagRoutes.body(request)
        var headers: [String: String]?
        if let raw = body["headers"] {
            guard case .object(let object) = raw else { throw APIError.badRequest("`headers` is an object of texts") }
            headers = Dictionary(try object.fields.map { field in
                guard let value = field.value.stringValue else { throw APIError.badRequest("header `\(field.key)` must be text") }
                return (field.key, value)
            }, uniquingKeysWith: { _, b in b })
        }
        var timeout: Int?
        if let raw = body["timeoutMs"] {
            guard case .int(let value) = raw else { throw APIError.badRequest("`timeoutMs` is a whole number of milliseconds") }
            timeout = Int(value)
        }
        if let template = body["template"]?.stringValue, !template.isEmpty {
            do {
                _ = try BodyTemplate.compile(template)
            } catch {
                throw APIError(.unprocessableContent, "invalid_destination", "\(error)")
            }
        }
        if let url = body["url"]?.stringValue {
            do {
                try OutboundAddress.check(url, allowPrivate: sender.allowPrivate)
            } catch let refused as OutboundAddress.Refused {
                throw APIError(.unprocessableContent, "invalid_destination", refused.description)
            }
        } else if body["url"] != nil {
            throw APIError.badRequest("`url` is text")
        }
        return DestinationInput(name: body["name"]?.stringValue, url: body["url"]?.stringValue, headers: headers,
                                secret: body["secret"]?.stringValue, timeoutMs: timeout, template: body["template"]?.stringValue,
                                purpose: body["purpose"]?.stringValue, rateLimit: try Self.integer(body["rateLimit"], "rateLimit"))
    }

    static func integer(_ value: JSONValue?, _ name: String) throws -> Int? {
        switch value {
        case nil: return nil
        case .int(let n)?: return Int(n)
        default: throw APIError.badRequest("`\(name)` is a whole number")
        }
    }

    /// A destination named by its name or number.
    static func key(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let name)?: name
        case .int(let number)?: String(number)
        default: nil
        }
    }

    /// Runs a store call, answering delivery errors as API errors.
    private func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch DeliveryError.unknownDestination(let key) {
            throw APIError.notFound("destination `\(key)`")
        } catch DeliveryError.unknownAutomation(let id) {
            throw APIError.notFound("automation \(id)")
        } catch DeliveryError.invalid(let message) {
            throw APIError(.unprocessableContent, "invalid_delivery_setting", message)
        }
    }
}

struct TestSendBody: Encodable {
    var delivered: Bool
    var status: Int?
    var latencyMs: Int64
    var error: String?
}

struct AttemptsBody: Encodable {
    var deliveries: [DeliveryAttempt]
    var next: Int64?
}

/// A message given up on, as the API shows it.
struct DeadLetter: Encodable {
    var id: Int64
    var webhookID: String
    var destination: Int64
    var profile: ProfileID
    var type: String
    var body: JSONValue
    var attempts: Int
    var lastStatus: Int?
    var lastError: String?

    init(_ message: OutboxMessage) {
        id = message.id
        webhookID = message.webhookID
        destination = message.destination
        profile = message.profile
        type = message.type
        body = (try? JSONParser.parse(message.body)) ?? .string(message.body)
        attempts = message.attempts
        lastStatus = message.lastStatus
        lastError = message.lastError
    }
}

struct DeadLettersBody: Encodable {
    var deadLetters: [DeadLetter]
    var next: Int64?
}

extension JSONValue {
    /// An Encodable value as a JSON value (to add fields to it).
    static func encoded(_ value: some Encodable) throws -> JSONValue {
        try JSONParser.parse(Array(try JSONResponse.encoder.encode(value)))
    }
}
