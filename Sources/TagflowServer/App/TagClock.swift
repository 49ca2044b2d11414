import Dispatch
import Logging
import ServiceLifecycle
import TagflowCore
import TagflowStore

/// Moves tags with time: wakes at the next moment some profile's tag is due to change (a window sliding,
/// a day ending in the workspace time zone) — or every quarter second, to notice earlier dues that new
/// events scheduled — and records every change at the exact moment it was due.
final class TagClock: Service, Sendable {
    let store: SQLiteStore
    let logger: Logger
    /// The longest the clock sleeps, which bounds how late a change made due by a new event can be.
    static let maximumSleepMillis: Int64 = 250
    private let queue = DispatchQueue(label: "tagflow.tag-clock")

    init(store: SQLiteStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            await tick(at: nowMillis())
            let due = store.nextTagDue ?? .max
            let wait = min(max(due - nowMillis(), 1), Self.maximumSleepMillis)
            try? await Task.sleep(for: .milliseconds(wait))
        }
    }

    /// Records every change due up to `now`, off the cooperative pool (a commit waits for the disk).
    func tick(at now: EpochMillis) async {
        let store = self.store
        let logger = self.logger
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async {
                do {
                    try store.advanceTags(to: now)
                } catch {
                    logger.error("tag clock could not record time changes: \(error)")
                }
                done.resume()
            }
        }
    }
}
