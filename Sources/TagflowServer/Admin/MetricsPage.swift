import Foundation
import TagflowCore
import TagflowStore

/// The CPU time the single writer has used since Tagflow started: in its commits, and the tag engine's part.
struct WriterTime {
    var commits: Duration
    var tagEngine: Duration
}

/// `/metrics` in the Prometheus text format: ingestion counters, tag and segment sizes, and per destination
/// the messages waiting, given up, and attempts by result with their summed latency.
enum MetricsPage {
    static func render(stats: StoreStats, queueWaiting: Int, writer: WriterTime, tags: [TagDefinitionRecord],
                       segments: [TagDefinitionRecord], destinations: [DestinationMetrics]) -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Int64)]) {
            metric(name, type, help, samples.map { ($0.labels, String($0.value)) })
        }
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { out += "\(name)\(sample.labels) \(sample.value)\n" }
        }
        func seconds(_ name: String, _ help: String, _ time: Duration) {
            metric(name, "counter", help, [("", String(format: "%.6f", time.seconds))])
        }
        func label(_ key: String, _ value: String, _ more: String = "") -> String {
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
            return "{\(key)=\"\(escaped)\"\(more)}"
        }
        metric("tagflow_events_accepted_total", "counter", "Events stored.", [("", stats.eventsAccepted)])
        metric("tagflow_events_deduplicated_total", "counter", "Events dropped as duplicates of a stored messageId.", [("", stats.eventsDeduplicated)])
        metric("tagflow_events_quarantined_total", "counter", "Events refused and kept in quarantine.", [("", stats.eventsQuarantined)])
        metric("tagflow_profiles", "gauge", "Profiles (merged ones excluded).", [("", stats.profiles)])
        metric("tagflow_ingest_queue_waiting", "gauge", "Events waiting to be written.", [("", Int64(queueWaiting))])
        seconds("tagflow_writer_cpu_seconds_total",
                "CPU time of the single writer's thread in ingestion commits (near one a second: ingestion at its limit).",
                writer.commits)
        seconds("tagflow_tag_engine_cpu_seconds_total",
                "The part of the writer's CPU time the tag engine took (rules evaluated, merges).", writer.tagEngine)
        metric("tagflow_tag_members", "gauge", "Profiles having each active tag.",
               tags.filter { $0.status == .active }.map { (label("tag", $0.id), Int64($0.members ?? 0)) })
        metric("tagflow_segment_members", "gauge", "Profiles in each active segment.",
               segments.filter { $0.status == .active }.map { (label("segment", $0.id), Int64($0.members ?? 0)) })
        metric("tagflow_destination_active", "gauge", "1 when the destination is enabled.",
               destinations.map { (label("destination", $0.name), $0.active ? 1 : 0) })
        metric("tagflow_outbox_pending", "gauge", "Messages waiting to be delivered.", destinations.map { (label("destination", $0.name), $0.pending) })
        metric("tagflow_dead_letters", "gauge", "Messages given up on.", destinations.map { (label("destination", $0.name), $0.dead) })
        metric("tagflow_delivery_attempts_total", "counter", "Delivery attempts by result (skipped: consent withdrawn).",
               destinations.flatMap { d in
                   [("success", d.succeeded), ("failure", d.failed), ("skipped", d.skipped)].map {
                       (label("destination", d.name, ",result=\"\($0.0)\""), $0.1)
                   }
               })
        metric("tagflow_delivery_latency_milliseconds_sum", "counter", "Summed time of the sent attempts.",
               destinations.map { (label("destination", $0.name), $0.latencyMsSum) })
        metric("tagflow_delivery_latency_milliseconds_count", "counter", "Sent attempts.",
               destinations.map { (label("destination", $0.name), $0.succeeded + $0.failed) })
        return out
    }
}
