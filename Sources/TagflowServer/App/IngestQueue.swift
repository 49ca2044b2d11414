import Logging
import ServiceLifecycle
import Synchronization
import TagflowCore
import TagflowStore

/// Why a submission was not taken.
public enum IngestQueueError: Error {
    /// More events are waiting than the queue holds: the sender should retry after a pause.
    case saturated
    /// Tagflow is shutting down.
    case closed
}

/// The write path's group commit: requests wait here, and one writer commits everything that is waiting
/// in a single transaction, then answers them all. Bounded, so a saturated disk means 429s, not memory.
public final class IngestQueue: Service, Sendable {
    private struct Job {
        var submission: IngestSubmission
        var continuation: CheckedContinuation<IngestReceipt, any Error>
    }

    private struct State {
        var jobs: [Job] = []
        var waitingEvents = 0
        var writer: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let store: SQLiteStore
    private let capacity: Int
    private let maxEventsPerCommit: Int
    private let logger: Logger
    private let state = Mutex(State())
    private let counters = Mutex(CommitCounters())

    /// How the writer has spent its time: commits, events written, time inside commits.
    public struct CommitCounters: Sendable {
        public var commits = 0
        public var messages = 0
        public var busy: Duration = .zero
    }

    public var commitCounters: CommitCounters { counters.withLock { $0 } }

    public init(store: SQLiteStore, capacity: Int, maxEventsPerCommit: Int, logger: Logger) {
        self.store = store
        self.capacity = capacity
        self.maxEventsPerCommit = maxEventsPerCommit
        self.logger = logger
    }

    /// Events accepted into the queue and not yet committed.
    public var waitingEvents: Int { state.withLock { $0.waitingEvents } }

    /// Waits until the submission is durable and returns what the log did with it.
    public func submit(_ submission: IngestSubmission) async throws -> IngestReceipt {
        try await withCheckedThrowingContinuation { continuation in
            let outcome: Result<CheckedContinuation<Void, Never>?, IngestQueueError> = state.withLock { state in
                if state.closed { return .failure(.closed) }
                let count = submission.messageCount
                if state.waitingEvents > 0, state.waitingEvents + count > capacity { return .failure(.saturated) }
                state.jobs.append(Job(submission: submission, continuation: continuation))
                state.waitingEvents += count
                defer { state.writer = nil }
                return .success(state.writer)
            }
            switch outcome {
            case .success(let writer): writer?.resume()
            case .failure(let error): continuation.resume(throwing: error)
            }
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while let jobs = await nextJobs() {
                let began = ContinuousClock.now
                defer {
                    let elapsed = ContinuousClock.now - began
                    let messages = jobs.reduce(0) { $0 + $1.submission.messageCount }
                    counters.withLock {
                        $0.commits += 1
                        $0.messages += messages
                        $0.busy += elapsed
                    }
                }
                do {
                    let receipts = try await store.ingest(jobs.map(\.submission))
                    for (job, receipt) in zip(jobs, receipts) { job.continuation.resume(returning: receipt) }
                } catch {
                    logger.error("commit of \(jobs.count) submissions failed: \(error)")
                    for job in jobs { job.continuation.resume(throwing: error) }
                }
                let done = jobs.reduce(0) { $0 + $1.submission.messageCount }
                state.withLock { $0.waitingEvents -= done }
            }
        } onGracefulShutdown: {
            self.close()
        }
    }

    /// Stops taking submissions; the writer finishes what is queued, then `run` returns.
    public func close() {
        let writer = state.withLock { state in
            state.closed = true
            defer { state.writer = nil }
            return state.writer
        }
        writer?.resume()
    }

    /// Everything waiting (up to a commit's worth), or nil once closed and drained.
    private func nextJobs() async -> [Job]? {
        while true {
            let taken: [Job]? = state.withLock { state in
                guard !state.jobs.isEmpty else { return state.closed ? nil : [] }
                var count = 0
                var end = 0
                while end < state.jobs.count, end == 0 || count + state.jobs[end].submission.messageCount <= maxEventsPerCommit {
                    count += state.jobs[end].submission.messageCount
                    end += 1
                }
                let jobs = Array(state.jobs[..<end])
                state.jobs.removeFirst(end)
                return jobs
            }
            guard let taken else { return nil }
            if !taken.isEmpty { return taken }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if !state.jobs.isEmpty || state.closed { return true }
                    state.writer = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }
}
