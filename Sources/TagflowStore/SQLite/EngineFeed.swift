import Dispatch
import Foundation
import Synchronization
import TagflowCore

/// Runs the tag engine over a commit's events on a thread beside the writer's, while the writer goes on
/// storing the next events. The engine needs of an event only the event itself, its profile and its place
/// in the log, and the writer needs nothing back until the end of the commit, when it writes the tag
/// changes in the same transaction — so a commit holds exactly what it held when the engine ran inline,
/// and the engine sees the same steps in the same order.
///
/// A commit of a few events runs them on the writer's thread when it finishes (handing them over would cost
/// more than it saves). Once ``handOverAt`` are waiting a worker starts; it takes all that is waiting, runs
/// it, and takes the next lot once as many are waiting again (or the commit's end is near).
///
/// Unchecked sendability: `waiting`, `closed`, `workerIdle` and `workerDone` are read and written with
/// `condition` held; the engine and `changes` belong to the worker from its start until it is done, and to
/// the writer otherwise — the condition's lock orders the hand-overs.
final class EngineFeed: @unchecked Sendable {
    private enum Step {
        case apply(EngineInput)
        case merge(loser: ProfileID, survivor: ProfileID, now: EpochMillis)
    }

    /// Steps waiting before a worker starts, and before an idle worker is woken.
    static let handOverAt = 32

    private let engine: TagEngine
    /// Where the worker adds the CPU time its thread spent.
    private let workerCPU: CPUTotal
    private let condition = NSCondition()
    private var waiting: [Step] = []
    private var closed = false
    private var workerStarted = false
    private var workerIdle = false
    private var workerDone = false
    private var changes: [TagChange] = []

    init(engine: TagEngine, workerCPU: CPUTotal) {
        self.engine = engine
        self.workerCPU = workerCPU
    }

    func apply(_ event: RuleEvent, to profile: ProfileID, now: EpochMillis) {
        add(.apply(EngineInput(event, to: profile, now: now)))
    }

    func merge(_ loser: ProfileID, into survivor: ProfileID, now: EpochMillis) {
        add(.merge(loser: loser, survivor: survivor, now: now))
    }

    /// Waits until every step handed over has run and returns the tag changes they made, in order.
    /// Called once a commit's events are all handed over — and again, harmlessly, on the way out of a
    /// commit that failed (the worker must be done before the engine is rebuilt).
    func finish() -> [TagChange] {
        condition.lock()
        closed = true
        if workerStarted {
            condition.broadcast()
            while !workerDone { condition.wait() }
        }
        let rest = waiting
        waiting = []
        condition.unlock()
        run(rest)
        defer { changes = [] }
        return changes
    }

    private func add(_ step: Step) {
        condition.lock()
        precondition(!closed, "a step handed to the tag engine after the commit's end")
        waiting.append(step)
        if waiting.count >= Self.handOverAt {
            if !workerStarted {
                workerStarted = true
                DispatchQueue.global(qos: .userInitiated).async { self.work() }
            } else if workerIdle {
                condition.signal()
            }
        }
        condition.unlock()
    }

    private func work() {
        let cpuBefore = cpuTime(CLOCK_THREAD_CPUTIME_ID)
        var taken: [Step] = []
        while true {
            condition.lock()
            while waiting.count < Self.handOverAt, !closed {
                workerIdle = true
                condition.wait()
                workerIdle = false
            }
            if waiting.isEmpty {  // closed, and nothing left
                workerDone = true
                condition.broadcast()
                condition.unlock()
                break
            }
            swap(&taken, &waiting)
            condition.unlock()
            run(taken)
            taken.removeAll(keepingCapacity: true)
        }
        let cpu = cpuTime(CLOCK_THREAD_CPUTIME_ID) - cpuBefore
        workerCPU.add(cpu)
    }

    /// Runs the steps in order: consecutive events as one batch (the engine loads the memory of those ahead
    /// while it works on one), merges one at a time.
    private func run(_ steps: [Step]) {
        var batch: [EngineInput] = []
        batch.reserveCapacity(steps.count)
        for step in steps {
            switch step {
            case .apply(let input):
                batch.append(input)
            case .merge(let loser, let survivor, let now):
                engine.apply(batch[...], changes: &changes)
                batch.removeAll(keepingCapacity: true)
                engine.merge(loser, into: survivor, now: now, changes: &changes)
            }
        }
        engine.apply(batch[...], changes: &changes)
    }
}

/// CPU time added up from several threads.
final class CPUTotal: Sendable {
    private let total = Mutex<Duration>(.zero)

    var value: Duration { total.withLock { $0 } }

    func add(_ time: Duration) { total.withLock { $0 += time } }
}

/// The CPU time used so far, user and system: by the calling thread (`CLOCK_THREAD_CPUTIME_ID`) or by the
/// whole process, every thread (`CLOCK_PROCESS_CPUTIME_ID`).
public func cpuTime(_ clock: clockid_t) -> Duration {
    var time = timespec()
    clock_gettime(clock, &time)
    return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
}
