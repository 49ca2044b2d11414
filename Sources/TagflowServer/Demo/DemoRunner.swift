import Foundation
import Hummingbird
import Logging
import TagflowCore
import TagflowStore

/// `tagflow demo`: Tagflow on a fresh data directory, plus the simulator feeding it over HTTP.
public struct DemoRunner: Sendable {
    public var config: TagflowConfig
    public var rate: Double
    public var duration: Double?

    public init(config: TagflowConfig, rate: Double, duration: Double?) {
        self.config = config
        self.rate = rate
        self.duration = duration
    }

    public func run() async throws {
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let tagflow = try await makeTagflow(config, logger: Logger(label: "tagflow-demo")) { port in
            portContinuation.yield(port)
        }
        var writeKeys: [String: String] = [:]
        let existing = try await tagflow.store.sources()
        for touchpoint in DemoSimulator.touchpoints + ["store"] {
            if let source = existing.first(where: { $0.name == touchpoint && $0.revokedAt == nil }) {
                writeKeys[touchpoint] = source.writeKey
            } else {
                writeKeys[touchpoint] = try await tagflow.store.createSource(name: touchpoint, at: nowMillis()).writeKey
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await tagflow.application.runService() }
            var ports = portStream.makeAsyncIterator()
            guard let port = await ports.next() else { return }
            say(Banner.text(host: config.host, port: port, data: config.dataDirectory, bootstrap: tagflow.bootstrap))
            if let token = tagflow.bootstrap.adminToken {
                say("  console:        http://127.0.0.1:\(port)/#token=\(token)")
            }
            say("  simulating a medical-aesthetics clinic at \(rate) events/s (web, miniprogram, app, store); Ctrl-C stops")
            let simulator = DemoSimulator(baseURL: "http://127.0.0.1:\(port)", writeKeys: writeKeys, rate: rate)
            group.addTask {
                do {
                    try await simulator.run()
                } catch is CancellationError {}
            }
            if let duration {
                group.addTask {
                    try await Task.sleep(for: .seconds(duration))
                    throw DemoFinished()
                }
            }
            do {
                try await group.next()
            } catch is DemoFinished {}
            group.cancelAll()
        }
    }

    struct DemoFinished: Error {}
}
