import Dispatch
import GRDB
import Synchronization

/// Copies the write-ahead log back into the database file twice a second, from a connection of its own.
/// Left to SQLite, the commit that crosses the WAL size limit does the copying itself — every few hundred
/// small commits one of them took ~200 ms, the tail of every request and webhook latency. A passive
/// checkpoint blocks neither writers nor readers; SQLite reuses the WAL from its start once it is all copied.
final class Checkpointer: Sendable {
    private let connection: DatabaseQueue
    private let queue = DispatchQueue(label: "tagflow.checkpointer")
    private let stopped = Mutex(false)
    static let interval: DispatchTimeInterval = .milliseconds(500)

    init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        connection = try DatabaseQueue(path: path, configuration: configuration)
        schedule()
    }

    private func schedule() {
        queue.asyncAfter(deadline: .now() + Self.interval) { [weak self] in
            guard let self, !self.stopped.withLock({ $0 }) else { return }
            _ = try? self.connection.writeWithoutTransaction { try $0.checkpoint(.passive) }
            self.schedule()
        }
    }

    /// Stops checkpointing (waiting for a checkpoint under way) and closes the connection.
    func stop() throws {
        stopped.withLock { $0 = true }
        queue.sync {}
        try connection.close()
    }
}
