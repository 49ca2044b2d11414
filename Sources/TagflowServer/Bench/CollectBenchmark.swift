import Foundation
import NIOCore
import TagflowCore

/// `tagflow bench collect`: what the collection API does with a request body before the write queue —
/// parse the JSON, read the batch, validate and normalise each message, find its identifiers — over the
/// batches `bench ingest` sends, on one core (no HTTP, no disk). The baseline, in the same run and taking
/// turns with it, is Foundation's `JSONSerialization` parsing the same bodies (a parse alone, into
/// Foundation objects): the ratio says how far the whole collection step is from a plain parse.
public struct CollectBenchmark: Sendable {
    public var events: Int
    public var users: Int
    public var rounds: Int

    public init(events: Int, users: Int, rounds: Int) {
        (self.events, self.users, self.rounds) = (events, users, rounds)
    }

    public func run() throws -> JSONValue {
        let bodies = IngestBenchmark(events: events, clients: 1, batchSize: 100, users: users).makeBodies()
            .map { Array(buffer: $0) }
        let bytes = bodies.reduce(0) { $0 + $1.count }
        let normalizer = MessageNormalizer()
        let clock = ContinuousClock()
        var (best, bestBaseline) = (Duration.seconds(1_000_000), Duration.seconds(1_000_000))
        var accepted = 0
        for _ in 0..<max(1, rounds) {
            var kept = 0
            let collect = try clock.measure {
                for body in bodies {
                    let messages = try CollectRoutes.messages(in: body, isBatch: true, limits: normalizer.limits)
                    let (events, _) = CollectRoutes.normalize(
                        messages, pathType: nil, receivedAt: nowMillis(), sourceName: "bench", normalizer: normalizer)
                    kept += events.count
                }
            }
            accepted = kept
            var objects = 0
            let baseline = try clock.measure {
                for body in bodies {
                    let document = try JSONSerialization.jsonObject(with: Data(body))
                    objects += ((document as? [String: Any])?["batch"] as? [Any])?.count ?? 0
                }
            }
            guard objects == bodies.count * 100 else {
                throw ConfigError("the baseline read \(objects) messages of \(bodies.count * 100)")
            }
            (best, bestBaseline) = (min(best, collect), min(bestBaseline, baseline))
        }
        guard accepted == bodies.count * 100 else {
            throw ConfigError("the collection step accepted \(accepted) messages of \(bodies.count * 100)")
        }
        let eventsPerSecond = Double(accepted) / best.seconds
        let baselinePerSecond = Double(accepted) / bestBaseline.seconds
        return [
            "benchmark": "collect",
            "events": .int(Int64(accepted)),
            "body_bytes": .int(Int64(bytes)),
            "rounds": .int(Int64(max(1, rounds))),
            "events_per_second": .double(eventsPerSecond.rounded()),
            "microseconds_per_event": .double((best.seconds / Double(accepted) * 1e8).rounded() / 100),
            "megabytes_per_second": .double((Double(bytes) / best.seconds / 1e4).rounded() / 100),
            "baseline_jsonserialization_events_per_second": .double(baselinePerSecond.rounded()),
            "ratio_to_baseline": .double((eventsPerSecond / baselinePerSecond * 100).rounded() / 100),
        ]
    }
}
