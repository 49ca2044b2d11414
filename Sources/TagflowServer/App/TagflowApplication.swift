import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TagflowCore
import TagflowStore

/// The credentials a start made or found, to print for the operator.
public struct Bootstrap: Sendable {
    /// A newly generated admin token (shown once; only its hash is stored), or the configured one.
    public var adminToken: String?
    /// The write key of the `default` source.
    public var writeKey: String?
}

/// A built Tagflow: the HTTP application with its services, and the parts tests and commands reach into.
public struct Tagflow: Sendable {
    public let application: Application<RouterResponder<BasicRequestContext>>
    public let store: SQLiteStore
    public let queue: IngestQueue
    public let bootstrap: Bootstrap
    public let config: TagflowConfig
    /// Yields the bound port once the server listens (useful with port 0).
    public let ports: AsyncStream<Int>

    /// Serves until SIGTERM or SIGINT, then drains the write queue and closes the store.
    public func run() async throws {
        try await config.explainingAddressInUse { try await application.runService() }
        try store.close()
    }

    /// Runs the server while `body` runs against its port, then shuts it down gracefully.
    /// For benchmarks and tools: cancelling a running server instead would leave connections hanging.
    public func whileServing<T: Sendable>(_ body: @escaping @Sendable (Int) async throws -> T) async throws -> T {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let client = ClientService(ports: ports) { port in
            do {
                let value = try await body(port)
                outcome.withLock { $0 = .success(value) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
        }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: application), .init(service: client, successTerminationBehavior: .gracefullyShutdownGroup)],
            logger: Logger(label: "tagflow")))
        try await config.explainingAddressInUse { try await group.run() }
        guard let result = outcome.withLock({ $0 }) else { throw ConfigError("the server stopped before it listened") }
        return try result.get()
    }
}

extension TagflowConfig {
    /// Runs `serving`, which listens on this configuration's address: when another process holds the port,
    /// the error says so and what to do, not only which socket call failed.
    func explainingAddressInUse<T>(_ serving: () async throws -> T) async throws -> T {
        do {
            return try await serving()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw ConfigError(
                "\(host):\(port) is already in use (is another Tagflow running?): stop it, or choose another port "
                    + "with --port or `port` in the configuration file")
        }
    }
}

/// Waits for the server's port, then runs a piece of client work; returning ends the service group.
struct ClientService: Service {
    let ports: AsyncStream<Int>
    let work: @Sendable (Int) async -> Void

    func run() async throws {
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { return }
        await work(port)
    }
}

/// Builds Tagflow from its configuration: opens the store, bootstraps credentials, wires the routes.
/// `serve`, `demo`, `bench` and the tests all start Tagflow through this one function.
public func makeTagflow(
    _ config: TagflowConfig, logger: Logger = Logger(label: "tagflow"),
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> Tagflow {
    guard let calendar = WorkspaceCalendar(identifier: config.timeZone) else {
        throw ConfigError("unknown time zone \"\(config.timeZone)\"; use a name such as Asia/Shanghai")
    }
    let store = try SQLiteStore(
        directory: config.dataDirectory, durability: config.durability, policy: config.identityPolicy, calendar: calendar)
    let bootstrap = try await bootstrapCredentials(store: store, config: config)
    if let directory = config.tagsDirectory {
        try applyTagFiles(in: directory, to: store, actor: "tags directory \(directory)", logger: logger)
    }
    let queue = IngestQueue(store: store, capacity: config.ingestQueueCapacity,
                            maxEventsPerCommit: config.maxEventsPerCommit, logger: logger)
    let normalizer = MessageNormalizer(limits: config.limits, policy: config.identityPolicy)

    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: UnknownEndpointMiddleware())
    router.get("healthz") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
    }
    router.get("/") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: ConsolePage.html)))
    }
    CollectRoutes(store: store, queue: queue, normalizer: normalizer).register(on: router)
    let sender = WebhookSender(client: WebhookSender.makeClient(), allowPrivate: config.allowPrivateDestinations)
    AdminRoutes(store: store, queue: queue, normalizer: normalizer, sender: sender).register(on: router)

    let application = Application(
        router: router,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "tagflow"),
        services: [queue, TagClock(store: store, logger: logger),
                   Dispatcher(store: store, sender: sender, policy: config.retryPolicy, logger: logger,
                              breakerCooldown: .milliseconds(config.deliveryBreakerCooldownMs ?? 30_000),
                              retention: .seconds(3600 * (config.deliveryRetentionHours ?? 168)))],
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.port
            portContinuation.yield(port)
            await onServerRunning(port)
        },
        logger: logger)
    return Tagflow(application: application, store: store, queue: queue, bootstrap: bootstrap, config: config,
                   ports: ports)
}

/// Applies every `.tags` file of a directory (creating or editing tags; others are left alone).
/// Refuses to start with rule errors, listing them all.
public func applyTagFiles(in directory: String, to store: SQLiteStore, actor: String, logger: Logger) throws {
    let files = try TagFiles.read(directory)
    let plan = try store.planTags(.upsert(files), actor: actor, now: nowMillis(), apply: true)
    if plan.hasErrors {
        throw ConfigError("the tag files in \(directory) have errors:\n" + plan.diagnostics.map(\.description).joined(separator: "\n"))
    }
    for entry in plan.entries where entry.action != "unchanged" {
        logger.info("\(entry.tag): \(entry.action) v\(entry.version), \(entry.membersAfter) members")
    }
}

func bootstrapCredentials(store: SQLiteStore, config: TagflowConfig) async throws -> Bootstrap {
    let now = nowMillis()
    var adminToken: String?
    if let configured = config.adminToken {
        try await store.addAdminToken(configured, name: "bootstrap", at: now)
        adminToken = configured
    } else if try await store.adminTokenCount() == 0 {
        let generated = SQLiteStore.randomSecret(prefix: "tfa_")
        try await store.addAdminToken(generated, name: "first start", at: now)
        adminToken = generated
    }
    let sources = try await store.sources()
    var writeKey = sources.first { $0.revokedAt == nil }?.writeKey
    if let configured = config.writeKey {
        if !sources.contains(where: { $0.writeKey == configured }) {
            _ = try await store.createSource(name: "default", writeKey: configured, at: now)
        }
        writeKey = configured
    } else if sources.isEmpty {
        writeKey = try await store.createSource(name: "default", at: now).writeKey
    }
    return Bootstrap(adminToken: adminToken, writeKey: writeKey)
}
