import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

@testable import TagflowCore
@testable import TagflowServer

/// Polls `condition` until it holds, failing after `seconds`.
func eventually(seconds: Double = 10, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("condition still false after \(seconds) s")
    throw CancellationError()
}

/// A webhook receiver on loopback. `/hook/ok` takes everything; `flaky` fails each message twice first;
/// `throttled` answers the first attempt of each message 429 with `Retry-After: 1`; `gone` answers 410;
/// `broken` 500; `sometimes` 503 to a third of the attempts; `slow` takes 5 s; `redirect` answers 302 to
/// `/hook/ok`. It checks every signature.
final class Receiver: Sendable {
    struct Taken: Sendable {
        var id: String
        var path: String
        var body: JSONValue
        var signed: Bool
        var user: String { body["data"]?["profile"]?["identifiers"]?["user_id"].map { arrayOf($0).first?.stringValue ?? "" } ?? "" }
    }

    let secret: String
    private let state = Mutex<(taken: [Taken], attempts: [String: Int], firstSeen: [String: ContinuousClock.Instant],
                               delays: [Duration], signatures: [String])>(([], [:], [:], [], []))

    init(secret: String) { self.secret = secret }

    var taken: [Taken] { state.withLock { $0.taken } }
    var attempts: [String: Int] { state.withLock { $0.attempts } }
    /// For each message taken, the time from its first attempt.
    var delays: [Duration] { state.withLock { $0.delays } }
    /// Every `webhook-signature` header received, in order.
    var signatures: [String] { state.withLock { $0.signatures } }

    func serve(_ body: @Sendable @escaping (Int) async throws -> Void) async throws {
        let router = Router()
        router.post("hook/:mode") { request, context in
            try await self.handle(request, mode: context.parameters.get("mode") ?? "ok")
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in try await body(client.port!) }
    }

    /// A hash that is the same in every run (Swift's `hashValue` is seeded per process).
    static func stableHash(_ text: String) -> Int {
        text.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) } & 0x7fff_ffff
    }

    private func handle(_ request: Request, mode: String) async throws -> Response {
        let bytes = Array(buffer: try await request.body.collect(upTo: 1 << 20))
        let id = request.headers[HTTPField.Name("webhook-id")!] ?? ""
        let timestamp = Int64(request.headers[HTTPField.Name("webhook-timestamp")!] ?? "") ?? 0
        let signature = request.headers[HTTPField.Name("webhook-signature")!] ?? ""
        let signed = WebhookSigner.verify(header: signature, secret: secret, id: id, timestamp: timestamp, body: bytes)
            && abs(timestamp - Int64(Date().timeIntervalSince1970)) < 300
        let attempt = state.withLock { state in
            state.attempts[id, default: 0] += 1
            state.signatures.append(signature)
            if state.firstSeen[id] == nil { state.firstSeen[id] = .now }
            return state.attempts[id]!
        }
        switch mode {
        case "flaky" where attempt <= 2, "broken": return Response(status: .internalServerError)
        case "sometimes" where (Self.stableHash(id) &+ attempt) % 3 == 0:
            return Response(status: .serviceUnavailable)
        case "throttled" where attempt == 1:
            return Response(status: .tooManyRequests, headers: [HTTPField.Name("Retry-After")!: "1"])
        case "gone": return Response(status: .gone)
        case "redirect": return Response(status: .found, headers: [.location: "/hook/ok"])
        case "slow": try await Task.sleep(for: .seconds(5))
        default: break
        }
        let body = (try? JSONParser.parse(bytes)) ?? .null
        state.withLock { state in
            state.taken.append(Taken(id: id, path: mode, body: body, signed: signed))
            if let first = state.firstSeen[id] { state.delays.append(.now - first) }
        }
        return Response(status: .noContent)
    }
}
