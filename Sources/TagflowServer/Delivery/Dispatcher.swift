import AsyncHTTPClient
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import TagflowCore
import TagflowStore

/// Sends one signed webhook and reports how it went. Redirects are not followed (a 3xx is a failure).
struct WebhookSender: Sendable {
    let client: HTTPClient
    let allowPrivate: Bool

    static func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool = .init(idleTimeout: .seconds(60))
        // The dispatcher bounds requests per destination itself; the pool's own per-host limit (8) would let
        // a slow destination starve another on the same host.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = Dispatcher.maxRequestsPerDestination
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func send(id: String, body: String, to destination: Destination, now: EpochMillis) async -> DeliveryOutcome {
        let started = ContinuousClock.now
        func elapsed() -> Int64 { Int64((ContinuousClock.now - started).seconds * 1000) }
        do {
            if !allowPrivate, let host = URL(string: destination.url)?.host, OutboundAddress.isPrivate(host),
               host.allSatisfy({ $0.isNumber || $0 == "." || $0 == ":" }) {
                throw OutboundAddress.Refused(description: "`\(host)` is a private address")
            }
            let bytes = Array((try destination.template.map { try BodyTemplate.render($0, event: body) } ?? body).utf8)
            var secrets = [destination.secret]
            if let previous = destination.previousSecret, let until = destination.previousSecretUntil.flatMap(Timestamp.parse),
               until > now {
                secrets.append(previous)
            }
            var request = HTTPClientRequest(url: destination.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "Tagflow-Webhooks/1")
            for (name, value) in destination.headers { request.headers.replaceOrAdd(name: name, value: value) }
            for (name, value) in try WebhookSigner.headers(secrets: secrets, id: id, timestamp: now / 1000, body: bytes) {
                request.headers.replaceOrAdd(name: name, value: value)
            }
            request.body = .bytes(ByteBuffer(bytes: bytes))
            let response = try await client.execute(request, timeout: .milliseconds(Int64(destination.timeoutMs)))
            let answer = try await response.body.collect(upTo: 64 << 10)
            let status = Int(response.status.code)
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(Self.retryAfterMillis)
            var error: String?
            if !(200..<300).contains(status) {
                let text = String(buffer: answer).prefix(200)
                error = "HTTP \(status)" + (text.isEmpty ? "" : ": \(text)")
            }
            return DeliveryOutcome(status: status, latencyMs: elapsed(), error: error, retryAfterMs: retryAfter)
        } catch {
            return DeliveryOutcome(status: nil, latencyMs: elapsed(), error: "\(error)")
        }
    }

    /// `Retry-After` as seconds or an HTTP date, in milliseconds from now (capped at a day).
    static func retryAfterMillis(_ value: String) -> Int64? {
        if let seconds = Double(value.trimmingCharacters(in: .whitespaces)) { return min(Int64(seconds * 1000), 86_400_000) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return min(max(Int64(date.timeIntervalSinceNow * 1000), 0), 86_400_000)
    }
}

/// Delivers the outbox: at least once, in order per (destination, profile), many pairs at a time. Each pair's
/// oldest pending message goes first and the next waits for it; other people's messages and other
/// destinations flow meanwhile, so one failing or slow receiver never holds up another. Wakes as soon as a
/// commit adds messages, when a retry falls due, and when a delivery finishes.
final class Dispatcher: Service, Sendable {
    let store: SQLiteStore
    let sender: WebhookSender
    let policy: RetryPolicy
    let logger: Logger
    /// How long a destination rests after `breakerThreshold` failures in a row (doubling while it keeps
    /// failing, up to ten minutes); then one message probes it.
    let breakerCooldown: Duration
    static let breakerThreshold = 10
    /// Most messages taken and not yet recorded as done (sent, being sent, or waiting to be recorded).
    static let maxUnrecorded = 1024
    /// Most requests under way to one destination: a receiver answering in 50 ms can take 1,280 a second.
    static let maxRequestsPerDestination = 64

    private struct Flight {
        var messages: Set<Int64> = []
        /// Finished since the last outbox read began: that read may still show them pending.
        var recentlyFinished: Set<Int64> = []
        /// Attempts made and not yet recorded: recorded together, in one transaction, by the main loop.
        var results: [(message: OutboxMessage, outcome: DeliveryOutcome, destination: String)] = []
        var gates: [Int64: Gate] = [:]
        /// Requests under way, per destination.
        var sending: [Int64: Int] = [:]
        var finished = 0
    }

    /// Per destination: the rate limit's tokens, and the circuit breaker that rests a failing receiver so it
    /// is not sent every other person's first attempt meanwhile.
    private struct Gate {
        var tokens: Double?
        var refilled = ContinuousClock.now
        var failuresInARow = 0
        var openUntil: ContinuousClock.Instant?
        var opens = 0
        var probing = false
    }

    private let flight = Mutex(Flight())
    private let queue = DispatchQueue(label: "tagflow.dispatcher")
    /// The destinations as last read, and the store's `destinationChanges` when they were read.
    private let known = Mutex<(version: Int, byID: [Int64: Destination])>((-1, [:]))
    /// How long delivered and skipped messages are kept (for the delivery log) before they are pruned.
    let retention: Duration
    private let lastPruned = Mutex(ContinuousClock.now - .seconds(3600))

    init(store: SQLiteStore, sender: WebhookSender, policy: RetryPolicy, logger: Logger, breakerCooldown: Duration = .seconds(30),
         retention: Duration = .seconds(7 * 86_400)) {
        self.breakerCooldown = breakerCooldown
        self.retention = retention
        self.store = store
        self.sender = sender
        self.policy = policy
        self.logger = logger
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                let commits = store.outboxCommits.load(ordering: .acquiring)
                let turn = await offPool { self.readTurn() }
                launch(turn, into: &group)
                await waitForWork(commits: commits, finished: turn.finished, nextDue: turn.nextDue)
            }
        }
        await offPool { self.recordResults() }
        try await sender.client.shutdown()
    }

    /// Runs database work on the dispatcher's own thread: a write may wait for the disk or for the ingest
    /// writer, and the cooperative pool (one thread per core) must keep serving requests meanwhile.
    private func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { done in queue.async { done.resume(returning: body()) } }
    }

    private struct Turn: Sendable {
        var due: [OutboxMessage] = []
        var destinations: [Int64: Destination] = [:]
        /// `"<profile>#<purpose>"` for the due messages whose profile withdrew their destination's purpose.
        var withdrawn: Set<String> = []
        var finished = 0
        var nextDue: EpochMillis?
    }

    /// Records the attempts finished so far, then reads what is due.
    private func readTurn() -> Turn {
        recordResults()
        var turn = Turn()
        turn.finished = flight.withLock { flight in
            flight.recentlyFinished.removeAll()
            return flight.finished
        }
        do {
            turn.destinations = try activeDestinations()
            let active = turn.destinations.keys.sorted()
            turn.due = try store.dueMessages(now: nowMillis(), destinations: active, limit: Self.maxRequestsPerDestination * 2)
            let destinations = turn.destinations
            turn.withdrawn = try store.withdrawnConsent(turn.due.compactMap { message in
                destinations[message.destination]?.purpose.map { (message.profile, $0) }
            })
            turn.nextDue = try store.nextMessageDue(destinations: active)
            try pruneNowAndThen()
        } catch {
            logger.error("the dispatcher cannot read the outbox: \(error)")
        }
        return turn
    }

    /// The active destinations, read again only after one of them changed.
    private func activeDestinations() throws -> [Int64: Destination] {
        let version = store.destinationChanges.load(ordering: .acquiring)
        if let cached = known.withLock({ $0.version == version ? $0.byID : nil }) { return cached }
        let active = Dictionary(uniqueKeysWithValues: try store.destinations().filter { $0.status == .active }.map { ($0.id, $0) })
        known.withLock { $0 = (version, active) }
        return active
    }

    /// Once a minute, deletes delivered and skipped messages older than `retention`: one batch of 2,000 a
    /// turn until none is left, so neither ingestion nor deliveries wait long for it.
    private func pruneNowAndThen() throws {
        guard lastPruned.withLock({ ContinuousClock.now - $0 > .seconds(60) }) else { return }
        let before = nowMillis() - Int64(retention.seconds * 1000)
        let pruned = try store.pruneOutbox(finishedBefore: before, limit: 2000)
        if pruned < 2000 { lastPruned.withLock { $0 = .now } }
        if pruned > 0 { logger.debug("pruned \(pruned) delivered messages finished before \(Timestamp.format(before))") }
    }

    /// Records the attempts made since the last call in one transaction; only then are their messages done
    /// (the next message of each pair may go once its predecessor is recorded as delivered).
    private func recordResults() {
        let results = flight.withLock { flight in
            defer { flight.results.removeAll() }
            return flight.results
        }
        guard !results.isEmpty else { return }
        do {
            let statuses = try store.recordAttempts(results.map { ($0.message, $0.outcome) }, policy: policy, now: nowMillis())
            for (result, status) in zip(results, statuses) where status == "dead" {
                logger.warning("gave up \(result.message.webhookID) to \(result.destination) after \(result.message.attempts + 1) attempts: \(result.outcome.error ?? "")")
            }
        } catch {
            logger.error("could not record \(results.count) deliveries (they will be attempted again): \(error)")
        }
        flight.withLock { flight in
            for result in results {
                if !result.outcome.skipped { note(result.outcome, of: result.message.destination, named: result.destination, in: &flight) }
                flight.messages.remove(result.message.id)
                flight.recentlyFinished.insert(result.message.id)
            }
            flight.finished += results.count
        }
    }

    private func launch(_ turn: Turn, into group: inout DiscardingTaskGroup) {
        for message in turn.due {
            guard let destination = turn.destinations[message.destination] else { continue }
            let withdrawn = destination.purpose.flatMap { turn.withdrawn.contains("\(message.profile.rawValue)#\($0)") ? $0 : nil }
            let admitted = flight.withLock { flight in
                guard !flight.messages.contains(message.id), !flight.recentlyFinished.contains(message.id),
                      flight.messages.count < Self.maxUnrecorded else { return false }
                if let withdrawn {
                    flight.messages.insert(message.id)
                    flight.results.append((message, .consentWithdrawn(withdrawn), destination.name))
                    return false
                }
                guard flight.sending[message.destination, default: 0] < Self.maxRequestsPerDestination,
                      Self.pass(&flight.gates[message.destination, default: Gate()], limit: destination.rateLimit)
                else { return false }
                flight.messages.insert(message.id)
                flight.sending[message.destination, default: 0] += 1
                return true
            }
            if let withdrawn {
                logger.info("not sending \(message.webhookID) to \(destination.name): profile \(message.profile) withdrew consent for \(withdrawn)")
            }
            guard admitted else { continue }
            group.addTask { await self.deliver(message, to: destination) }
        }
    }

    /// Whether the gate lets one more request through now: not resting (or this is the probe after a rest),
    /// and a token left under the rate limit.
    private static func pass(_ gate: inout Gate, limit: Int?) -> Bool {
        let now = ContinuousClock.now
        if let openUntil = gate.openUntil, now < openUntil || gate.probing { return false }
        if let limit {
            let seconds = (now - gate.refilled).seconds
            gate.tokens = min(Double(limit), (gate.tokens ?? Double(limit)) + seconds * Double(limit))
            gate.refilled = now
            guard gate.tokens! >= 1 else { return false }
            gate.tokens! -= 1
        }
        if gate.openUntil != nil { gate.probing = true }
        return true
    }

    /// Counts failures in a row; opens the breaker at the threshold, or when the probe fails; closes it on success.
    private func note(_ outcome: DeliveryOutcome, of destination: Int64, named name: String, in flight: inout Flight) {
        var gate = flight.gates[destination, default: Gate()]
        defer { flight.gates[destination] = gate }
        if outcome.succeeded {
            gate.failuresInARow = 0
            gate.openUntil = nil
            gate.opens = 0
            gate.probing = false
            return
        }
        guard outcome.status != 410 else { return }
        gate.failuresInARow += 1
        guard gate.probing || gate.failuresInARow >= Self.breakerThreshold else { return }
        gate.opens += 1
        let rest = min(breakerCooldown * (1 << min(gate.opens - 1, 10)), .seconds(600))
        gate.openUntil = .now + rest
        gate.probing = false
        gate.failuresInARow = 0
        logger.warning("\(name) failed \(Self.breakerThreshold) times in a row; resting it for \(rest) before one probe")
    }

    private func deliver(_ message: OutboxMessage, to destination: Destination) async {
        let outcome = await sender.send(id: message.webhookID, body: message.body, to: destination, now: nowMillis())
        flight.withLock { flight in
            flight.sending[message.destination, default: 1] -= 1
            flight.results.append((message, outcome, destination.name))
        }
    }

    /// Sleeps in short steps until new messages are committed, a delivery finishes (the next of its pair may
    /// go), the next retry is due, or a quarter second passes.
    private func waitForWork(commits: Int, finished: Int, nextDue: EpochMillis?) async {
        let now = nowMillis()
        // Messages due now are either on their way or waiting behind one that is: a finish wakes for them.
        let due = nextDue.flatMap { $0 > now ? $0 : nil }
        let deadline = min(due ?? .max, now + 250)
        while nowMillis() < deadline, !Task.isCancelled, !Task.isShuttingDownGracefully {
            if store.outboxCommits.load(ordering: .acquiring) != commits { return }
            if flight.withLock({ $0.finished != finished || !$0.results.isEmpty }) { return }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }
}
