import Foundation
import TagflowCore

/// `tagflow bench engine`: the shared data set through the tag engine alone (no HTTP, no disk) with 50 tags
/// of mixed kinds, the clock following the events and time-driven changes fired as it goes.
public struct EngineBenchmark: Sendable {
    public var data: BenchData
    public var sources: [RuleSource]

    public init(data: BenchData, sources: [RuleSource] = [RuleSource(name: "bench.tags", text: BenchData.rules())]) {
        self.data = data
        self.sources = sources
    }

    public func run() throws -> JSONValue {
        let tagSet = try RuleCompiler.compileOrThrow(sources)
        let baselineResident = residentBytesAfterTrim()
        // What the engine holds, not the benchmark's own buffers: those are gone once `feed` returns.
        let pass = feed(tagSet)
        let (engine, seconds, changeCount, timeChanges) = (pass.engine, pass.seconds, pass.changes, pass.timeChanges)
        let resident = residentBytesAfterTrim()
        let profileCount = engine.profileCount
        let unused = BlockPool.threadUnusedBytes
        return [
            "benchmark": "engine",
            "events": .int(Int64(data.count)),
            "profiles": .int(Int64(profileCount)),
            "tags": .int(Int64(tagSet.tags.count)),
            "shared_features": .int(Int64(tagSet.features.count)),
            "tag_changes": .int(Int64(changeCount)),
            "time_changes": .int(Int64(timeChanges)),
            "tag_evaluations": .int(Int64(engine.tagEvaluations)),
            "timer_firings": .int(Int64(engine.timerFirings)),
            "seconds": .double((seconds * 1000).rounded() / 1000),
            "events_per_second": .int(Int64(Double(data.count) / seconds)),
            "bytes_per_profile": .int(Int64(max(0, resident - baselineResident) / max(1, profileCount))),
            "peak_rss_bytes": .int(Int64(peakResidentBytes())),
            "block_pool_bytes": .int(Int64(BlockPool.reservedBytes)),
            "block_pool_free_bytes": .int(Int64(unused.free)),
            "block_pool_untouched_bytes": .int(Int64(unused.untouched)),
            "heap_allocated_bytes": Allocator.heapAllocatedBytes.map { .int(Int64($0)) } ?? .null,
            "holdings": .object(JSONObject(engine.holdings.sorted { $0.key < $1.key }.map { JSONField($0.key, .int(Int64($0.value))) })),
        ]
    }

    /// One pass of the data set through an engine with `tagSet`: the engine, the seconds the engine worked
    /// (generating the rows and counting the changes are not timed), and how many tags changed, by time
    /// among them.
    struct Pass {
        var engine: TagEngine
        var seconds: Double
        var changes: Int
        var timeChanges: Int
    }

    func feed(_ tagSet: TagSet) -> Pass {
        let engine = TagEngine(tagSet: tagSet, calendar: .shanghai, now: data.startMillis)
        var changes = TagChanges()
        changes.reserveCapacity(1 << 16)
        var pass = Pass(engine: engine, seconds: 0, changes: 0, timeChanges: 0)
        func count() {
            pass.changes += changes.count
            pass.timeChanges += changes.indices.lazy.filter { changes.cause(at: $0) == .time }.count
            changes.removeAll(keepingCapacity: true)
        }
        let chunk = 100_000
        var elapsed: Duration = .zero
        var generated = 0
        let clock = ContinuousClock()
        // Rows are made a chunk at a time, then fed to the engine in batches of 1,024 events, the clock moved
        // on (firing what time changed) after each.
        var inputs: [EngineInput] = []
        inputs.reserveCapacity(chunk)
        while generated < data.count {
            inputs.removeAll(keepingCapacity: true)
            for i in generated..<min(data.count, generated + chunk) {
                let (event, profile) = data.ruleEvent(i)
                inputs.append(EngineInput(event, to: profile, now: event.timestamp))
            }
            generated += inputs.count
            for start in stride(from: 0, to: inputs.count, by: 1024) {
                let batch = inputs[start..<min(start + 1024, inputs.count)]
                elapsed += clock.measure {
                    engine.apply(batch, changes: &changes)
                    engine.advance(to: batch.last!.now, changes: &changes)
                }
                if changes.count > 60_000 { count() }
            }
        }
        count()
        pass.seconds = elapsed.seconds
        return pass
    }

    /// Each tag of the set alone (with the tags it refers to), through the same data: what it costs above an
    /// engine with no tags at all (finding the profile, reading the event), and how often it was evaluated,
    /// fired and changed — the dearest first. One pass each: figures move by ±15 % on a shared machine.
    public func runPerTag() throws -> TagCosts {
        let tagSet = try RuleCompiler.compileOrThrow(sources)
        let events = Double(data.count)
        let floor = feed(.empty)
        var costs = TagCosts(
            events: data.count, profiles: floor.engine.profileCount, floorMicros: floor.seconds / events * 1_000_000,
            allMicros: feed(tagSet).seconds / events * 1_000_000, tags: [])
        for index in tagSet.tags.indices {
            let included = tagSet.tagsReferred(by: index)
            let text = (included + [index]).map { tagSet.tags[$0].source }.joined(separator: "\n")
            let pass = feed(try RuleCompiler.compileOrThrow([RuleSource(name: "\(tagSet.tags[index].id).tags", text: text)]))
            costs.tags.append(TagCosts.Tag(
                id: tagSet.tags[index].id, with: included.map { tagSet.tags[$0].id },
                micros: (pass.seconds - floor.seconds) / events * 1_000_000,
                evaluations: Double(pass.engine.tagEvaluations) / events, firings: Double(pass.engine.timerFirings) / events,
                changes: Double(pass.changes) / events))
        }
        costs.tags.sort { $0.micros > $1.micros }
        return costs
    }
}

/// What `bench engine --per-tag` found (``EngineBenchmark/runPerTag()``): figures an event, µs of engine time
/// and counts.
public struct TagCosts: Sendable {
    public struct Tag: Sendable {
        public var id: String
        /// The tags it refers to, run with it.
        public var with: [String]
        /// Above the floor.
        public var micros: Double
        public var evaluations: Double
        public var firings: Double
        public var changes: Double
    }

    public var events: Int
    public var profiles: Int
    /// An engine with no tags.
    public var floorMicros: Double
    /// Every tag of the set at once.
    public var allMicros: Double
    /// The dearest first.
    public var tags: [Tag]

    public var json: JSONValue {
        func thousandths(_ x: Double) -> JSONValue { .double((x * 1000).rounded() / 1000) }
        return [
            "benchmark": "engine_per_tag",
            "events": .int(Int64(events)),
            "profiles": .int(Int64(profiles)),
            "floor_microseconds_per_event": thousandths(floorMicros),
            "all_microseconds_per_event": thousandths(allMicros),
            "tags": .array(tags.map { tag in [
                "tag": .string(tag.id),
                "with": .array(tag.with.map { .string($0) }),
                "microseconds_per_event": thousandths(tag.micros),
                "evaluations_per_event": thousandths(tag.evaluations),
                "firings_per_event": thousandths(tag.firings),
                "changes_per_event": thousandths(tag.changes),
            ] }),
        ]
    }

    /// A table: the cost above the floor, then how often the tag did each thing, a line a tag.
    public var lines: [String] {
        func fixed(_ x: Double) -> String { String(format: "%8.3f", x) }
        var lines = [
            "\(events) events; no tags: \(String(format: "%.3f", floorMicros)) µs an event; "
                + "all \(tags.count) tags: \(String(format: "%.3f", allMicros)) µs an event",
            ["µs/event", "evals", "firings", "changes"].map { String(repeating: " ", count: 8 - $0.count) + $0 }.joined(separator: "  ")
                + "  tag (a figure each event, above an engine with no tags)",
        ]
        for tag in tags {
            lines.append([tag.micros, tag.evaluations, tag.firings, tag.changes].map(fixed).joined(separator: "  ") + "  " + tag.id
                + (tag.with.isEmpty ? "" : " (with \(tag.with.joined(separator: ", ")))"))
        }
        return lines
    }

}

/// The resident set once freed heap memory has been handed back to the system.
func residentBytesAfterTrim() -> Int {
    #if os(Linux)
    _ = glibcMallocTrim(0)
    #endif
    Allocator.releaseFreedPages()
    return currentResidentBytes()
}

#if os(Linux)
/// glibc's `malloc_trim`, which the Glibc module does not export.
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif

/// The process's current resident set (VmRSS), in bytes; 0 where /proc is missing.
func currentResidentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    else { return 0 }
    return kb * 1024
}
