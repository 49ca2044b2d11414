import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import TagflowCore
import TagflowStore

/// `tagflow bench latency`: events posted to `/v1/batch` at a steady rate, each changing a tag an automation
/// sends to a receiver on loopback that verifies every signature; the figure is the time from the event's
/// request to the webhook's arrival. As a baseline in the same run, the receiver's own round trip: a signed
/// webhook posted straight to it.
public struct LatencyBenchmark: Sendable {
    public var changesPerSecond: Int
    public var seconds: Double
    public var users: Int
    public var durability: Durability

    public init(changesPerSecond: Int, seconds: Double, users: Int, durability: Durability) {
        self.changesPerSecond = changesPerSecond
        self.seconds = seconds
        self.users = users
        self.durability = durability
    }

    static let secret = "whsec_" + Data((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }).base64EncodedString()

    /// When each webhook arrived, by (user, value): the value is the user's view count after the event.
    final class Arrivals: Sendable {
        let state = Mutex<(arrived: [String: ContinuousClock.Instant], badSignatures: Int)>(([:], 0))
    }

    /// Milliseconds measured from several tasks.
    final class Samples: Sendable {
        let values = Mutex<[Double]>([])
    }

    public func run() async throws -> JSONValue {
        let arrivals = Arrivals()
        let (receiverPorts, receiverPort) = AsyncStream.makeStream(of: Int.self)
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let bytes = Array(buffer: try await request.body.collect(upTo: 1 << 20))
            let now = ContinuousClock.now
            let id = request.headers[HTTPField.Name("webhook-id")!] ?? ""
            let timestamp = Int64(request.headers[HTTPField.Name("webhook-timestamp")!] ?? "") ?? 0
            let signed = WebhookSigner.verify(header: request.headers[HTTPField.Name("webhook-signature")!] ?? "",
                                              secret: Self.secret, id: id, timestamp: timestamp, body: bytes)
            let event = (try? JSONParser.parse(bytes)) ?? .null
            if case .array(let ids)? = event["data"]?["profile"]?["identifiers"]?["user_id"], let user = ids.first?.stringValue,
               let value = event["data"]?["new"] {
                arrivals.state.withLock { state in
                    if !signed { state.badSignatures += 1 }
                    if state.arrived["\(user)#\(value.jsonString)"] == nil { state.arrived["\(user)#\(value.jsonString)"] = now }
                }
            }
            return Response(status: .noContent)
        }
        var quiet = Logger(label: "tagflow-bench")
        quiet.logLevel = .warning
        let receiver = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { receiverPort.yield($0.localAddress?.port ?? 0) }, logger: quiet)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tagflow-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = TagflowConfig()
        config.dataDirectory = directory
        config.port = 0
        config.writeKey = "bench-write-key"
        config.adminToken = "bench-admin-token"
        config.durability = durability
        config.allowPrivateDestinations = true
        let tagflow = try await makeTagflow(config, logger: quiet)

        let receiverGroup = ServiceGroup(configuration: .init(services: [.init(service: receiver)], logger: quiet))
        async let receiverRun: Void = receiverGroup.run()
        var iterator = receiverPorts.makeAsyncIterator()
        guard let hookPort = await iterator.next() else { throw ConfigError("the receiver did not start") }
        defer { Task { await receiverGroup.triggerGracefulShutdown() } }

        let result = try await tagflow.whileServing { port in
            try await measure(url: "http://127.0.0.1:\(port)", hook: "http://127.0.0.1:\(hookPort)/hook", arrivals: arrivals)
        }
        await receiverGroup.triggerGracefulShutdown()
        try await receiverRun
        return result
    }

    private func measure(url: String, hook: String, arrivals: Arrivals) async throws -> JSONValue {
        let admin = ["Authorization": "Bearer bench-admin-token"]
        _ = try await send(url + "/api/tags", ["source": "tag views\n  value count(view_item)"], headers: admin)
        _ = try await send(url + "/api/destinations", ["name": "bench", "url": .string(hook), "secret": .string(Self.secret)], headers: admin)
        for on in ["tag.added", "tag.changed"] {
            _ = try await send(url + "/api/automations", [
                "name": .string(on), "destination": "bench", "trigger": ["on": .string(on), "tag": "views"],
            ], headers: admin)
        }

        // Baseline: the receiver's own round trip, signed webhooks posted straight to it.
        var baseline: [Double] = []
        for n in 0..<200 {
            let body: JSONValue = ["data": ["profile": ["identifiers": ["user_id": ["baseline"]]], "new": .int(Int64(n))]]
            let bytes = Array(body.jsonString.utf8)
            var headers = ["Content-Type": "application/json"]
            for (name, value) in try WebhookSigner.headers(secrets: [Self.secret], id: "msg_b\(n)", timestamp: Int64(Date().timeIntervalSince1970), body: bytes) {
                headers[name] = value
            }
            let started = ContinuousClock.now
            _ = try await send(hook, body, headers: headers)
            baseline.append(Self.milliseconds(ContinuousClock.now - started))
        }

        // Load: every tick a batch with one view for each of the next users; each view changes `views`.
        let auth = ["Authorization": "Basic " + Data("bench-write-key:".utf8).base64EncodedString()]
        let tick = Duration.milliseconds(10)
        let perTick = max(1, changesPerSecond / 100)
        let ticks = Int(seconds * 100)
        var counts = [Int](repeating: 0, count: users)
        var sent: [String: ContinuousClock.Instant] = [:]
        var next = 0
        let requestTimes = Samples()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<ticks {
                try await Task.sleep(until: start + tick * t, clock: .continuous)
                var events: [JSONValue] = []
                var keys: [String] = []
                for _ in 0..<perTick {
                    let user = next % users
                    next += 1
                    counts[user] += 1
                    events.append(["type": "track", "event": "view_item", "userId": .string("u\(user)")])
                    keys.append("u\(user)#\(counts[user])")
                }
                let now = ContinuousClock.now
                for key in keys { sent[key] = now }
                let body: JSONValue = ["batch": .array(events)]
                group.addTask {
                    let posted = ContinuousClock.now
                    _ = try await send(url + "/v1/batch", body, headers: auth)
                    let took = Self.milliseconds(ContinuousClock.now - posted)
                    requestTimes.values.withLock { $0.append(took) }
                }
            }
            try await group.waitForAll()
        }
        let loadEnded = ContinuousClock.now
        let deadline = loadEnded + .seconds(30)
        while arrivals.state.withLock({ $0.arrived.count }) < sent.count + 200, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let (arrived, bad) = arrivals.state.withLock { ($0.arrived, $0.badSignatures) }
        var latencies: [Double] = []
        var last = start
        for (key, at) in sent {
            guard let arrival = arrived[key] else { continue }
            latencies.append(Self.milliseconds(arrival - at))
            last = max(last, arrival)
        }
        latencies.sort()
        baseline.sort()
        let ingest = requestTimes.values.withLock { $0 }.sorted()
        func percentile(_ values: [Double], _ p: Double) -> Double {
            guard !values.isEmpty else { return 0 }
            return (values[min(values.count - 1, Int(Double(values.count - 1) * p))] * 100).rounded() / 100
        }
        return [
            "benchmark": "latency",
            "changes_per_second_offered": .int(Int64(perTick * 100)),
            "seconds": .double(seconds),
            "durability": .string(durability.rawValue),
            "changes": .int(Int64(sent.count)),
            "delivered": .int(Int64(latencies.count)),
            "lost": .int(Int64(sent.count - latencies.count)),
            "bad_signatures": .int(Int64(bad)),
            "p50_ms": .double(percentile(latencies, 0.50)),
            "p99_ms": .double(percentile(latencies, 0.99)),
            "max_ms": .double(percentile(latencies, 1.0)),
            "ingest_request_p50_ms": .double(percentile(ingest, 0.50)),
            "ingest_request_p99_ms": .double(percentile(ingest, 0.99)),
            "deliveries_per_second": .double((Double(latencies.count) / (last - start).seconds).rounded()),
            "baseline_receiver_p50_ms": .double(percentile(baseline, 0.50)),
            "baseline_receiver_p99_ms": .double(percentile(baseline, 0.99)),
        ]
    }

    static func milliseconds(_ duration: Duration) -> Double { duration.seconds * 1000 }

    private func send(_ url: String, _ body: JSONValue, headers: [String: String]) async throws -> UInt {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body.jsonBytes))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        guard (200..<300).contains(response.status.code) else {
            throw ConfigError("\(url) answered \(response.status.code)")
        }
        return response.status.code
    }
}
