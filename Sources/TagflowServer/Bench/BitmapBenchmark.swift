import Foundation
import Roaring
import TagflowCore

/// `tagflow bench bitmaps`: tags as bitmaps over a 10 M-profile universe, at the densities of
/// `shared/reference/performance.md` (1 %, 10 %, 50 % random; 10 % in clustered runs), and the time of the
/// audience operations on them. With `pyroaringScript`, the same bitmaps go through pyroaring (CRoaring)
/// in the same run, for the ratio.
public struct BitmapBenchmark: Sendable {
    public var universe: Int
    public var repeats: Int
    /// Turns Tagflow and CRoaring take, one after the other.
    public var rounds: Int
    /// `scripts/bench_pyroaring.py`: when set and python3 with pyroaring is there, CRoaring runs too.
    public var pyroaringScript: String?

    public init(universe: Int = 10_000_000, repeats: Int = 20, rounds: Int = 3, pyroaringScript: String? = nil) {
        self.universe = universe
        self.repeats = repeats
        self.rounds = rounds
        self.pyroaringScript = pyroaringScript
    }

    /// The operations timed, each over named bitmaps: (name, what it computes).
    static let operations: [(name: String, text: String)] = [
        ("and_count_10x10", "|a10 & b10|"),
        ("and_10x10", "a10 & b10"),
        ("or_count_10x10", "|a10 | b10|"),
        ("or_10x10", "a10 | b10"),
        ("andnot_count_10x10", "|a10 - b10|"),
        ("andnot_10x10", "a10 - b10"),
        ("and_count_1x50", "|a1 & a50|"),
        ("and_1x50", "a1 & a50"),
        ("or_50x50", "a50 | b50"),
        ("and_clustered_x10", "runs10 & a10"),
        ("and_5_tags", "a10 & b10 & c10 & d10 & e10"),
        ("expression", "(a10 & b10 & ~c10) | (d10 & e10)"),
    ]

    public func run() throws -> JSONValue {
        var random = SplitMix64(seed: 7)
        let started = ContinuousClock.now
        var bitmaps: [String: RoaringBitmap] = [:]
        var buildSeconds = 0.0
        var builtIDs = 0
        for (name, density) in [("a1", 0.01), ("a10", 0.1), ("b10", 0.1), ("c10", 0.1), ("d10", 0.1), ("e10", 0.1),
                                ("a50", 0.5), ("b50", 0.5)] {
            let ids = random.sortedIDs(universe: universe, density: density)
            let clock = ContinuousClock.now
            bitmaps[name] = RoaringBitmap(sorted: ids)
            buildSeconds += (ContinuousClock.now - clock).seconds
            builtIDs += ids.count
        }
        var clustered = RoaringBitmap(sorted: random.clusteredIDs(universe: universe, density: 0.1))
        clustered.optimize()
        bitmaps["runs10"] = clustered
        let b = bitmaps
        let a1 = b["a1"]!, a10 = b["a10"]!, b10 = b["b10"]!, c10 = b["c10"]!, d10 = b["d10"]!, e10 = b["e10"]!
        let a50 = b["a50"]!, b50 = b["b50"]!, runs10 = b["runs10"]!
        let work: [String: () -> Int] = [
            "and_count_10x10": { a10.intersectionCount(b10) },
            "and_10x10": { a10.intersection(b10).keysCount },
            "or_count_10x10": { a10.unionCount(b10) },
            "or_10x10": { a10.union(b10).keysCount },
            "andnot_count_10x10": { a10.subtractingCount(b10) },
            "andnot_10x10": { a10.subtracting(b10).keysCount },
            "and_count_1x50": { a1.intersectionCount(a50) },
            "and_1x50": { a1.intersection(a50).keysCount },
            "or_50x50": { a50.union(b50).keysCount },
            "and_clustered_x10": { runs10.intersection(a10).keysCount },
            "and_5_tags": { RoaringBitmap.intersection([a10, b10, c10, d10, e10]).keysCount },
            "expression": {
                var left = a10.intersection(b10)
                left.subtract(c10)
                left.formUnion(d10.intersection(e10))
                return left.keysCount
            },
        ]
        // Tagflow and CRoaring take turns, `rounds` times each, and each keeps its fastest time: a slow
        // moment of the shared machine then weighs on neither side alone.
        var tagflowTimes: [String: Double] = [:]
        var croaringTimes: [String: Double]?
        for _ in 0..<rounds {
            for (name, _) in Self.operations {
                tagflowTimes[name] = min(tagflowTimes[name] ?? .infinity, Self.best(of: repeats, work[name]!) * 1e6)
            }
            if let script = pyroaringScript, let times = try Self.croaring(bitmaps, script: script, repeats: repeats) {
                croaringTimes = times.merging(croaringTimes ?? [:], uniquingKeysWith: min)
            }
        }
        var result: [JSONField] = [
            JSONField("benchmark", "bitmaps"),
            JSONField("universe", .int(Int64(universe))),
            JSONField("build_ids_per_second", .int(Int64(Double(builtIDs) / buildSeconds))),
            JSONField("tagflow_microseconds", .object(JSONObject(Self.operations.map { op in
                JSONField(op.name, .double((tagflowTimes[op.name]! * 10).rounded() / 10))
            }))),
            JSONField("portable_bytes_a10", .int(Int64(a10.portableBytes().count))),
            JSONField("clustered_runs", .int(Int64(runs10.containerKinds.runs))),
        ]
        if let croaring = croaringTimes {
            result.append(JSONField("croaring_microseconds", .object(JSONObject(Self.operations.compactMap { op in
                croaring[op.name].map { JSONField(op.name, .double(($0 * 10).rounded() / 10)) }
            }))))
            result.append(JSONField("ratio_tagflow_to_croaring", .object(JSONObject(Self.operations.compactMap { op in
                guard let theirs = croaring[op.name], theirs > 0, let ours = tagflowTimes[op.name] else { return nil }
                return JSONField(op.name, .double((ours / theirs * 100).rounded() / 100))
            }))))
        }
        result.append(JSONField("seconds", .double(((ContinuousClock.now - started).seconds * 10).rounded() / 10)))
        return .object(JSONObject(result))
    }

    /// The fastest of `repeats` runs, in seconds (the least disturbed by the machine's other work).
    static func best(of repeats: Int, _ body: () -> Int) -> Double {
        var best = Double.infinity
        var sink = 0
        for _ in 0..<repeats {
            let clock = ContinuousClock.now
            sink &+= body()
            best = min(best, (ContinuousClock.now - clock).seconds)
        }
        if sink == -1 { print(sink) }
        return best
    }

    /// The same operations through pyroaring, over the same bitmaps handed over in the portable format;
    /// nil when python3 or pyroaring is missing.
    static func croaring(_ bitmaps: [String: RoaringBitmap], script: String, repeats: Int) throws -> [String: Double]? {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tagflow-bitmaps-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, bitmap) in bitmaps {
            try Data(bitmap.portableBytes()).write(to: directory.appendingPathComponent("\(name).roaring"))
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, directory.path, String(repeats)]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let parsed = try? JSONSerialization.jsonObject(with: data) as? [String: Double] else { return nil }
        return parsed
    }
}

extension RoaringBitmap {
    /// A use of a built result, so that building it is not optimised away.
    var keysCount: Int { isEmpty ? 0 : 1 }
}
/// Profile ids for bitmap benchmarks.
extension SplitMix64 {
    /// Each id of the universe with probability `density`, in order.
    mutating func sortedIDs(universe: Int, density: Double) -> [UInt32] {
        let threshold = UInt64(density * Double(UInt64.max))
        var ids: [UInt32] = []
        ids.reserveCapacity(Int(Double(universe) * density * 1.01))
        for id in 0..<universe where next() < threshold { ids.append(UInt32(id)) }
        return ids
    }

    /// About `density` of the universe in runs of 100 to 5,000 consecutive ids.
    mutating func clusteredIDs(universe: Int, density: Double) -> [UInt32] {
        var ids: [UInt32] = []
        var id = 0
        while id < universe {
            let length = 100 + Int(next() % 4901)
            let gap = Int(Double(length) * (1 - density) / density)
            let start = id + Int(next() % UInt64(max(1, gap)))
            for v in start..<min(universe, start + length) { ids.append(UInt32(v)) }
            id = start + length + gap
        }
        return ids
    }
}
