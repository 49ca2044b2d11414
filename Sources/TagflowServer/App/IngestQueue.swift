import Dispatch
#if canImport(CDispatch)
import CDispatch  // where `timespec` comes from once a file of this module calls `execve` (Glibc's unistd.h)
#endif
import Foundation
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
///
/// The writer is a thread of its own: the commit blocks on the disk, and under load the cooperative
/// pool is busy parsing requests, so a writer task there would wait for a thread between commits.
public final class IngestQueue: Service, Sendable {
    private struct Job {
        var submission: IngestSubmission
        var continuation: CheckedContinuation<IngestReceipt, any Error>
    }

    private struct State {
        var jobs: [Job] = []
        var waitingEvents = 0
        var closed = false
    }

    /// How the writer has spent its time: commits, messages written, time inside commits, and the CPU time
    /// its thread used in them (the work itself, which a machine shared with others slows less than the
    /// wall clock).
    public struct CommitCounters: Sendable {
        public var commits = 0
        public var messages = 0
        public var busy: Duration = .zero
        public var cpu: Duration = .zero
    }

    private let store: SQLiteStore
    private let capacity: Int
    private let maxEventsPerCommit: Int
    private let logger: Logger
    private let state = Mutex(State())
    private let counters = Mutex(CommitCounters())
    /// Signalled for every submission and on close; the writer sleeps on it when there is nothing to do.
    private let wakeUp = DispatchSemaphore(value: 0)

    public init(store: SQLiteStore, capacity: Int, maxEventsPerCommit: Int, logger: Logger) {
        self.store = store
        self.capacity = capacity
        self.maxEventsPerCommit = maxEventsPerCommit
        self.logger = logger
    }

    /// Events accepted into the queue and not yet committed.
    public var waitingEvents: Int { state.withLock { $0.waitingEvents } }

    public var commitCounters: CommitCounters { counters.withLock { $0 } }

    /// Waits until the submission is durable and returns what the log did with it.
    public func submit(_ submission: IngestSubmission) async throws -> IngestReceipt {
        try await withCheckedThrowingContinuation { continuation in
            let refusal: IngestQueueError? = state.withLock { state in
                if state.closed { return .closed }
                let count = submission.messageCount
                if state.waitingEvents > 0, state.waitingEvents + count > capacity { return .saturated }
                state.jobs.append(Job(submission: submission, continuation: continuation))
                state.waitingEvents += count
                return nil
            }
            if let refusal {
                continuation.resume(throwing: refusal)
            } else {
                wakeUp.signal()
            }
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                    let thread = Thread {
                        self.writeUntilClosed()
                        finished.resume()
                    }
                    thread.name = "tagflow-writer"
                    thread.start()
                }
            } onCancel: {
                self.close()
            }
        } onGracefulShutdown: {
            self.close()
        }
    }

    /// Stops taking submissions; the writer finishes what is queued, then `run` returns.
    public func close() {
        state.withLock { $0.closed = true }
        wakeUp.signal()
    }

    private func writeUntilClosed() {
        while true {
            let next: [Job]? = state.withLock { state in
                guard !state.jobs.isEmpty else { return state.closed ? nil : [] }
                var count = 0
                var end = 0
                while end < state.jobs.count, end == 0 || count + state.jobs[end].submission.messageCount <= maxEventsPerCommit {
                    count += state.jobs[end].submission.messageCount
                    end += 1
                }
                defer { state.jobs.removeFirst(end) }
                return Array(state.jobs[..<end])
            }
            guard let jobs = next else { return }
            if jobs.isEmpty {
                wakeUp.wait()
                continue
            }
            commit(jobs)
        }
    }

    private func commit(_ jobs: [Job]) {
        let began = ContinuousClock.now
        let cpuBefore = cpuTime(CLOCK_THREAD_CPUTIME_ID)
        let messages = jobs.reduce(0) { $0 + $1.submission.messageCount }
        do {
            let receipts = try store.ingest(jobs.map(\.submission))
            for (job, receipt) in zip(jobs, receipts) { job.continuation.resume(returning: receipt) }
        } catch {
            logger.error("commit of \(jobs.count) submissions failed: \(error)")
            for job in jobs { job.continuation.resume(throwing: error) }
        }
        state.withLock { $0.waitingEvents -= messages }
        let elapsed = ContinuousClock.now - began
        let cpu = cpuTime(CLOCK_THREAD_CPUTIME_ID) - cpuBefore
        counters.withLock {
            $0.commits += 1
            $0.messages += messages
            $0.busy += elapsed
            $0.cpu += cpu
        }
    }
}
