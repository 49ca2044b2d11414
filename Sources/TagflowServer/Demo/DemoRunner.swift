import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals
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
        let tagflow = try await makeTagflow(config, logger: Logger(label: "tagflow-demo"))
        var writeKeys: [String: String] = [:]
        let existing = try await tagflow.store.sources()
        for touchpoint in DemoSimulator.touchpoints + ["store"] {
            if let source = existing.first(where: { $0.name == touchpoint && $0.revokedAt == nil }) {
                writeKeys[touchpoint] = source.writeKey
            } else {
                writeKeys[touchpoint] = try await tagflow.store.createSource(name: touchpoint, at: nowMillis()).writeKey
            }
        }
        let simulation = Simulation(ports: tagflow.ports, config: config, bootstrap: tagflow.bootstrap,
                                    writeKeys: writeKeys, rate: rate, duration: duration)
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: tagflow.application),
                .init(service: simulation, successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: Logger(label: "tagflow-demo")))
        try await config.explainingAddressInUse { try await group.run() }
        try tagflow.store.close()
    }

    /// Waits for the server, prints where it is, then feeds it until the duration ends or shutdown.
    struct Simulation: Service {
        let ports: AsyncStream<Int>
        let config: TagflowConfig
        let bootstrap: Bootstrap
        let writeKeys: [String: String]
        let rate: Double
        let duration: Double?

        func run() async throws {
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            say(Banner.text(host: config.host, port: port, data: config.dataDirectory, bootstrap: bootstrap))
            if let token = bootstrap.adminToken {
                say("  console:        http://127.0.0.1:\(port)/#token=\(token)")
            }
            say("  simulating a medical-aesthetics clinic at \(rate) events/s (web, miniprogram, app, store); Ctrl-C stops")
            let simulator = DemoSimulator(baseURL: "http://127.0.0.1:\(port)", writeKeys: writeKeys, rate: rate)
            await cancelWhenGracefulShutdown {
                do {
                    if let duration {
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask { try await simulator.run() }
                            group.addTask { try await Task.sleep(for: .seconds(duration)) }
                            try await group.next()
                            group.cancelAll()
                        }
                    } else {
                        try await simulator.run()
                    }
                } catch {}
            }
        }
    }
}
