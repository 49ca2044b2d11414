import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import TagflowCore
import TagflowStore

/// `tagflow bench ingest`: a server on loopback, concurrent clients posting 100-event batches to `/v1/batch`,
/// every request answered only once durable.
public struct IngestBenchmark: Sendable {
    public var events: Int
    public var clients: Int
    public var batchSize: Int
    public var users: Int
    public var durability: Durability
    /// A directory of `.tags` files live during the run (the tag engine works inside every commit).
    public var tagsDirectory: String?
    /// The per cent of events that are identify calls setting five traits (a city, an age, a VIP flag, a phone
    /// number — also an identifier — and a name).
    public var identifyPercent = 0

    public init(events: Int, clients: Int, batchSize: Int, users: Int, durability: Durability = .full, tagsDirectory: String? = nil) {
        self.durability = durability
        self.tagsDirectory = tagsDirectory
        self.events = events
        self.clients = clients
        self.batchSize = batchSize
        self.users = users
    }

    /// Runs the benchmark and returns its figures as a JSON object.
    public func run() async throws -> JSONValue {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tagflow-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = TagflowConfig()
        config.dataDirectory = directory
        config.port = 0
        config.writeKey = "bench-write-key"
        config.durability = durability
        config.tagsDirectory = tagsDirectory
        var logger = Logger(label: "tagflow-bench")
        logger.logLevel = .warning
        let tagflow = try await makeTagflow(config, logger: logger)

        let bodies = makeBodies()
        let baselineBodies = bodies.prefix(max(clients, bodies.count / 10)).map { _ in ByteBuffer(string: #"{}"#) }
        return try await tagflow.whileServing { port in
            let url = "http://127.0.0.1:\(port)"
            // Baseline in the same run: the same clients and connections against /healthz (no parsing, no disk).
            let baseline = try await drive(url: url + "/healthz", method: .GET, bodies: Array(baselineBodies))
            let writerBefore = tagflow.queue.commitCounters
            let engineBefore = tagflow.store.tagEngineCPUTime
            let processBefore = cpuTime(CLOCK_PROCESS_CPUTIME_ID)
            let measured = try await drive(url: url + "/v1/batch", method: .POST, bodies: bodies)
            let processCPU = cpuTime(CLOCK_PROCESS_CPUTIME_ID) - processBefore
            let writer = tagflow.queue.commitCounters
            let engineCPU = tagflow.store.tagEngineCPUTime - engineBefore
            let busy = writer.busy - writerBefore.busy
            let busySeconds = busy.seconds
            let stats = try await tagflow.store.stats()
            guard stats.eventsAccepted == Int64(bodies.count * batchSize) else {
                throw ConfigError("benchmark lost events: sent \(bodies.count * batchSize), stored \(stats.eventsAccepted)")
            }
            let eventsPerSecond = Double(bodies.count * batchSize) / measured.seconds
            func microsecondsPerEvent(_ time: Duration) -> JSONValue {
                .double((time.seconds / Double(bodies.count * batchSize) * 1e7).rounded() / 10)
            }
            let result: JSONValue = [
                "benchmark": "ingest",
                "events": .int(Int64(bodies.count * batchSize)),
                "clients": .int(Int64(clients)),
                "batch_size": .int(Int64(batchSize)),
                "tags": .int(Int64(try await tagflow.store.tagDefinitions().count)),
                "identify_percent": .int(Int64(identifyPercent)),
                "durability": .string(tagflow.config.durability.rawValue),
                "events_per_second": .double(eventsPerSecond.rounded()),
                "requests_per_second": .double((Double(bodies.count) / measured.seconds).rounded()),
                "p50_ms": .double(measured.percentile(0.50)),
                "p99_ms": .double(measured.percentile(0.99)),
                "max_ms": .double(measured.percentile(1.0)),
                "baseline_healthz_requests_per_second": .double((Double(baselineBodies.count) / baseline.seconds).rounded()),
                "baseline_healthz_p50_ms": .double(baseline.percentile(0.50)),
                "commits": .int(Int64(writer.commits - writerBefore.commits)),
                "events_per_commit": .double((Double(writer.messages - writerBefore.messages)
                    / Double(max(1, writer.commits - writerBefore.commits))).rounded()),
                "writer_busy_fraction": .double((busySeconds / measured.seconds * 1000).rounded() / 1000),
                "writer_cpu_us_per_event": microsecondsPerEvent(writer.cpu - writerBefore.cpu),
                "tag_engine_cpu_us_per_event": microsecondsPerEvent(engineCPU),
                "process_cpu_us_per_event": microsecondsPerEvent(processCPU),
                "events_stored": .int(stats.eventsAccepted),
                "profiles": .int(stats.profiles),
                "tag_changes": .int(try await tagflow.store.tagChangesRecorded()),
                "peak_rss_bytes": .int(Int64(peakResidentBytes())),
            ]
            return result
        }
    }

    struct Timing {
        var seconds: Double
        var latencies: [Double]

        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            let index = min(latencies.count - 1, Int((Double(latencies.count - 1) * p).rounded()))
            return (latencies[index] * 1000).rounded() / 1000
        }
    }

    func drive(url: String, method: HTTPMethod, bodies: [ByteBuffer]) async throws -> Timing {
        let authorization = "Basic " + Data("bench-write-key:".utf8).base64EncodedString()
        let next = Counter()
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var mine: [Double] = []
                    while let index = next.take(below: bodies.count) {
                        var request = HTTPClientRequest(url: url)
                        request.method = method
                        request.headers.add(name: "Authorization", value: authorization)
                        if method == .POST { request.body = .bytes(bodies[index]) }
                        let began = ContinuousClock.now
                        while true {
                            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                            _ = try await response.body.collect(upTo: 1 << 16)
                            if response.status == .tooManyRequests {
                                try await Task.sleep(for: .milliseconds(50))
                                continue
                            }
                            guard response.status == .ok else {
                                throw ConfigError("benchmark request answered \(response.status.code)")
                            }
                            break
                        }
                        let elapsed = ContinuousClock.now - began
                        mine.append(elapsed.seconds * 1000)
                    }
                    return mine
                }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all.sorted()
        }
        let total = ContinuousClock.now - start
        return Timing(seconds: total.seconds,
                      latencies: latencies)
    }

    /// Batches of realistic track events with unique message ids, built before the clock starts.
    func makeBodies() -> [ByteBuffer] {
        let projects = ["玻尿酸", "热玛吉", "水光针", "光子嫩肤", "超声炮"]
        let names = ["view_item", "view_item", "view_item", "click_book", "consult", "search", "pay_order"]
        var random = SplitMix64(seed: 42)
        let start = nowMillis() - 3_600_000
        var bodies: [ByteBuffer] = []
        var n = 0
        for _ in 0..<(events + batchSize - 1) / batchSize {
            var batch: [JSONValue] = []
            for _ in 0..<batchSize {
                let user = random.next() % UInt64(users)
                let identifies = identifyPercent > 0 && Int(random.next() % 100) < identifyPercent
                let traits: JSONValue = !identifies ? .null : [
                    "city": .string(["上海", "北京", "广州"][Int(user % 3)]), "age": .int(Int64(20 + user % 40)),
                    "vip": .bool(user % 7 == 0), "phone": .string("1380\(1_000_000 + user)"), "name": .string("用户\(user)"),
                ]
                batch.append([
                    "type": identifies ? "identify" : "track", "event": .string(names[Int(random.next() % UInt64(names.count))]),
                    "traits": traits,
                    "messageId": .string(Self.uuid(&random)), "anonymousId": .string("anon-\(user)"),
                    "userId": random.next() % 3 == 0 ? .string("user-\(user)") : .null,
                    "timestamp": .string(Timestamp.format(start + Int64(n))),
                    "properties": ["project": .string(projects[Int(random.next() % 5)]),
                                   "price": .int(Int64(980 + random.next() % 15_000)),
                                   "dwell_seconds": .int(Int64(random.next() % 240))],
                    "context": ["library": ["name": "analytics-python", "version": "2.4.0"],
                                "campaign": ["source": "douyin", "medium": "cpc", "name": "双11"],
                                "ip": "10.1.2.3", "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"],
                ])
                n += 1
            }
            let body: JSONValue = ["batch": .array(batch), "sentAt": .string(Timestamp.format(nowMillis()))]
            bodies.append(ByteBuffer(bytes: body.jsonBytes))
        }
        return bodies
    }

    /// A random message id in the form real clients send (a UUID v4): unique ids at random places, as
    /// the log's index of message ids sees them in production.
    static func uuid(_ random: inout SplitMix64) -> String {
        let (high, low) = (random.next(), random.next())
        return String(format: "%08llx-%04llx-4%03llx-a%03llx-%012llx", high >> 32, (high >> 16) & 0xFFFF, high & 0xFFF,
                      low >> 52, low & 0xFFFF_FFFF_FFFF)
    }
}

/// A shared counter handing out work items to the client tasks.
final class Counter: Sendable {
    private let value = Mutex(0)

    func take(below limit: Int) -> Int? {
        value.withLock { v in
            guard v < limit else { return nil }
            defer { v += 1 }
            return v
        }
    }
}

/// The process's peak resident set (VmHWM), in bytes; 0 where /proc is missing.
public func peakResidentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kilobytes * 1024
    }
    return 0
}
