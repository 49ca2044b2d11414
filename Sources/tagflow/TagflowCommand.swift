import ArgumentParser
import Foundation
import TagflowCore
import TagflowServer
import TagflowStore

@main
struct TagflowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tagflow", abstract: "Tagflow: real-time user tagging platform (标签数据平台).",
        subcommands: [Serve.self, Demo.self, Sources.self, Tags.self, Segments.self, Bench.self])

    static func main() async {
        Allocator.preferJemalloc()
        await main(nil)
    }
}

struct ServerOptions: ParsableArguments {
    @Option(help: "Data directory (SQLite database).") var data: String?
    @Option(help: "Directory of .tags files to apply at start.") var tags: String?
    @Option(help: "Address to listen on.") var host: String?
    @Option(help: "Port to listen on (0: any free port).") var port: Int?
    @Option(help: "JSON config file; flags override it.") var config: String?

    func resolve(defaultData: String? = nil) throws -> TagflowConfig {
        var resolved = try config.map(TagflowConfig.load(file:)) ?? TagflowConfig()
        if let value = data ?? defaultData { resolved.dataDirectory = value }
        if let host { resolved.host = host }
        if let port { resolved.port = port }
        if let tags { resolved.tagsDirectory = tags }
        resolved.applyEnvironment()
        return resolved
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run Tagflow: collection API, admin API, console.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        let config = try options.resolve()
        let tagflow = try await makeTagflow(config) { port in
            say(Banner.text(host: config.host, port: port, data: config.dataDirectory, bootstrap: nil))
        }
        say(Banner.credentials(tagflow.bootstrap))
        try await tagflow.run()
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Tagflow on a fresh data directory with a live medical-aesthetics simulation.")
    @OptionGroup var options: ServerOptions
    @Option(help: "Events per second the simulator sends.") var rate: Double = 20
    @Option(help: "Stop after this many seconds (default: run until interrupted).") var duration: Double?

    func run() async throws {
        let directory = options.data ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("tagflow-demo-\(UUID().uuidString.prefix(8))").path
        var config = try options.resolve(defaultData: directory)
        if config.tagsDirectory == nil {
            config.tagsDirectory = ExampleTags.directory
            if config.tagsDirectory == nil {
                say("note: the example tag set (examples/tags) is neither in the current directory nor beside the "
                    + "checkout this binary was built in: the demo runs without tags. Run it from the checkout, or "
                    + "pass --tags DIR.")
            }
        }
        try await DemoRunner(config: config, rate: rate, duration: duration).run()
    }
}

struct Sources: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, create and revoke sources (write keys) of a running Tagflow.",
        subcommands: [List.self, Create.self, Revoke.self])

    struct Connection: ParsableArguments {
        @Option(help: "Tagflow URL (or TAGFLOW_URL).") var url: String?
        @Option(help: "Admin token (or TAGFLOW_ADMIN_TOKEN).") var token: String?

        func client() throws -> AdminClient {
            let environment = ProcessInfo.processInfo.environment
            guard let token = token ?? environment["TAGFLOW_ADMIN_TOKEN"] else {
                throw ValidationError("give the admin token with --token or TAGFLOW_ADMIN_TOKEN")
            }
            return AdminClient(baseURL: url ?? environment["TAGFLOW_URL"] ?? "http://127.0.0.1:8080", token: token)
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var connection: Connection
        func run() async throws {
            for source in try await connection.client().get("/api/sources")["sources"].map(arrayOf) ?? [] {
                say(SourceLine.format(source))
            }
        }
    }

    struct Create: AsyncParsableCommand {
        @OptionGroup var connection: Connection
        @Argument(help: "Name of the source, e.g. web, miniprogram, store.") var name: String
        @Option(help: "Use this write key instead of a random one.") var writeKey: String?
        func run() async throws {
            var body: JSONValue = ["name": .string(name)]
            if let writeKey, case .object(var object) = body {
                object["writeKey"] = .string(writeKey)
                body = .object(object)
            }
            say(SourceLine.format(try await connection.client().post("/api/sources", body: body)))
        }
    }

    struct Revoke: AsyncParsableCommand {
        @OptionGroup var connection: Connection
        @Argument(help: "Id of the source.") var id: Int
        func run() async throws {
            say(SourceLine.format(try await connection.client().delete("/api/sources/\(id)")))
        }
    }
}

func arrayOf(_ value: JSONValue) -> [JSONValue] {
    if case .array(let elements) = value { return elements }
    return []
}

enum SourceLine {
    static func format(_ source: JSONValue) -> String {
        let id = source["id"].map { $0.jsonString } ?? "?"
        let revoked = source["revokedAt"]?.stringValue.map { "  revoked \($0)" } ?? ""
        return "\(id)\t\(source["name"]?.stringValue ?? "")\t\(source["writeKey"]?.stringValue ?? "")\(revoked)"
    }
}

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (use a release build: swift run -c release tagflow bench ...).",
        subcommands: [Ingest.self, Collect.self, Engine.self, Expiry.self, Bitmaps.self, Latency.self])

    /// Refuses a count below one, naming the option.
    static func requirePositive(_ options: KeyValuePairs<String, Int>) throws {
        for (name, value) in options where value < 1 {
            throw ValidationError("\(name) must be at least 1, not \(value)")
        }
    }

    /// Prints a benchmark's figures, with the allocator they were measured on.
    static func report(_ result: JSONValue, json: Bool) {
        var result = result
        if case .object(var object) = result {
            object["allocator"] = .string(Allocator.active)
            result = .object(object)
        }
        if json {
            say(result.jsonString)
        } else if case .object(let object) = result {
            for field in object.fields { say("\(field.key): \(field.value.jsonString)") }
        }
    }

    struct Engine: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The shared data set (shared/bench/gen_events.py, regenerated) through the tag engine with 50 tags, one core.")
        @Option(help: "Events to feed.") var events = 5_000_000
        @Option(help: "Distinct users in the data set.") var users = 1_000_000
        @Option(help: "Days the events span.") var days = 60
        @Option(help: "A .tags file or directory to run instead of the 50 bench tags (events: view, click, search, add_to_cart, checkout, purchase, signup; properties: project, dwell_ms, item_id).")
        var tags: String?
        @Flag(help: "Run each tag alone (with the tags it refers to) and list what each costs, the dearest first: one pass a tag, so try --events 1000000 --users 100000.")
        var perTag = false
        @Flag(help: "Print one JSON object.") var json = false

        func run() async throws {
            try Bench.requirePositive(["--events": events, "--users": users, "--days": days])
            let data = BenchData(users: users, events: events, days: days)
            let sources = try tags.map(TagFiles.read) ?? [RuleSource(name: "bench.tags", text: BenchData.rules())]
            let benchmark = EngineBenchmark(data: data, sources: sources)
            guard perTag else { return Bench.report(try benchmark.run(), json: json) }
            let costs = try benchmark.runPerTag()
            if json { return Bench.report(costs.json, json: true) }
            costs.lines.forEach(say)
        }
    }

    struct Collect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The collection API's work on the bodies `bench ingest` sends (parse, validate, normalise), one core, no HTTP; against Foundation's JSONSerialization in the same run.")
        @Option(help: "Events (in batches of 100).") var events = 200_000
        @Option(help: "Distinct users in the traffic.") var users = 20_000
        @Option(help: "Turns the collection step and the baseline take one after the other; the fastest of each counts.")
        var rounds = 5
        @Flag(help: "Print one JSON object.") var json = false

        func run() async throws {
            try Bench.requirePositive(["--events": events, "--users": users, "--rounds": rounds])
            Bench.report(try CollectBenchmark(events: events, users: users, rounds: rounds).run(), json: json)
        }
    }

    struct Bitmaps: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tags as bitmaps over a 10 M-profile universe: audience operations, against pyroaring (CRoaring) when python3 has it.")
        @Option(help: "Profiles in the universe.") var universe = 10_000_000
        @Option(help: "Runs of each operation; the fastest counts.") var repeats = 20
        @Option(help: "Turns Tagflow and CRoaring take one after the other.") var rounds = 3
        @Flag(help: "Do not run pyroaring for the comparison.") var noCroaring = false
        @Flag(help: "Print one JSON object.") var json = false

        func run() async throws {
            let script = noCroaring ? nil : CheckoutFile.path("scripts/bench_pyroaring.py")
            Bench.report(try BitmapBenchmark(universe: universe, repeats: repeats, rounds: rounds, pyroaringScript: script).run(), json: json)
        }
    }

    struct Latency: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "From an event's request to its webhook's arrival at a signature-checking receiver on loopback.")
        @Option(help: "Tag changes per second offered (one event each).") var rate = 1000
        @Option(help: "Seconds of load.") var seconds = 10.0
        @Option(help: "Distinct users.") var users = 5000
        @Option(help: "full or normal.") var durability = "full"
        @Flag(help: "Print one JSON object.") var json = false

        func run() async throws {
            guard let level = Durability(rawValue: durability) else {
                throw ValidationError("--durability must be full or normal, not \(durability)")
            }
            Bench.report(try await LatencyBenchmark(changesPerSecond: rate, seconds: seconds, users: users, durability: level).run(),
                         json: json)
        }
    }

    struct Expiry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tags due to change by time alone, and how late the tag clock records them.")
        @Option(help: "Profiles whose tag expires.") var profiles = 20_000
        @Option(help: "Seconds over which the expiries are spread.") var spread = 10
        @Flag(help: "Print one JSON object.") var json = false

        func run() async throws {
            try Bench.requirePositive(["--profiles": profiles, "--spread": spread])
            Bench.report(try await ExpiryBenchmark(profiles: profiles, spreadSeconds: spread).run(), json: json)
        }
    }

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Durable ingestion over HTTP /v1/batch.")
        @Option(help: "Events to send.") var events = 200_000
        @Option(help: "Concurrent clients.") var clients = 16
        @Option(help: "Events per batch.") var batchSize = 100
        @Option(help: "Distinct users in the traffic.") var users = 20_000
        @Option(help: "full (fsync every commit) or normal (survives a crash of Tagflow, not of the machine).")
        var durability: String = "full"
        @Option(help: "A directory of .tags files live during the run, e.g. examples/tags.") var tags: String?
        @Option(help: "Per cent of the events that are identify calls setting five traits.") var identifyPercent = 0
        @Flag(help: "Print one JSON object.") var json = false

        func run() async throws {
            guard let level = Durability(rawValue: durability) else {
                throw ValidationError("--durability must be full or normal, not \(durability)")
            }
            try Bench.requirePositive(["--events": events, "--clients": clients, "--batch-size": batchSize, "--users": users])
            guard (0...100).contains(identifyPercent) else {
                throw ValidationError("--identify-percent must be from 0 to 100, not \(identifyPercent)")
            }
            var benchmark = IngestBenchmark(events: events, clients: clients, batchSize: batchSize, users: users,
                                            durability: level, tagsDirectory: tags)
            benchmark.identifyPercent = identifyPercent
            let result = try await benchmark.run()
            if json {
                say(result.jsonString)
            } else if case .object(let object) = result {
                for field in object.fields { say("\(field.key): \(field.value.jsonString)") }
            }
        }
    }
}
