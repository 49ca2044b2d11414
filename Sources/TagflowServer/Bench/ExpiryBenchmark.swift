import Foundation
import Logging
import TagflowCore
import TagflowStore

/// `tagflow bench expiry`: profiles whose tag leaves by time alone (a sliding window passing their only
/// event), spread over a few seconds, with the real tag clock service recording them; reports how late
/// each change was written after the moment it was due.
public struct ExpiryBenchmark: Sendable {
    public var profiles: Int
    public var spreadSeconds: Int

    public init(profiles: Int, spreadSeconds: Int) {
        self.profiles = profiles
        self.spreadSeconds = spreadSeconds
    }

    public func run() async throws -> JSONValue {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tagflow-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(directory: directory)
        defer { try? store.close() }
        let window: Int64 = 20_000
        _ = try store.planTags(.upsert([RuleSource(text: "tag recent\n  when exists(view) in last 20 seconds")]),
                               actor: "bench", now: nowMillis(), apply: true)

        // Each profile's one view falls out of the window at a moment 2 s to 2 s + spread from now.
        let start = nowMillis()
        var random = SplitMix64(seed: 7)
        var events: [Event] = []
        for i in 0..<profiles {
            let expiresIn = 2000 + Int64(random.next() % UInt64(spreadSeconds * 1000))
            events.append(Event(
                type: .track, name: "view", userId: "u\(i)", timestamp: start - window + expiresIn, receivedAt: start,
                identifiers: [Identifier(Identifier.userID, "u\(i)")], payload: ["type": "track", "event": "view"]))
        }
        for batch in stride(from: 0, to: events.count, by: 5000) {
            _ = try store.ingest([IngestSubmission(
                sourceID: 1, receivedAt: start, events: Array(events[batch..<min(events.count, batch + 5000)]))])
        }
        let ingestDone = nowMillis()

        var logger = Logger(label: "tagflow-bench")
        logger.logLevel = .warning
        let clock = TagClock(store: store, logger: logger)
        let deadline = start + 2000 + Int64(spreadSeconds) * 1000 + 3000
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await clock.run() }
            try await Task.sleep(for: .milliseconds(max(0, deadline - nowMillis())))
            group.cancelAll()
        }
        let lateness = try store.timeChangeLateness(since: start)
        func percentile(_ p: Double) -> Int64 {
            lateness.isEmpty ? 0 : lateness[min(lateness.count - 1, Int(Double(lateness.count) * p))]
        }
        let result: JSONValue = [
            "benchmark": "expiry",
            "tags_due": .int(Int64(profiles)),
            "time_changes_recorded": .int(Int64(lateness.count)),
            "ingest_ms": .int(ingestDone - start),
            "p50_lateness_ms": .int(percentile(0.5)),
            "p99_lateness_ms": .int(percentile(0.99)),
            "max_lateness_ms": .int(lateness.last ?? 0),
            "clock_max_sleep_ms": .int(TagClock.maximumSleepMillis),
        ]
        return result
    }
}
