import Foundation
import GRDB
import Synchronization
import Testing

@testable import TagflowCore
@testable import TagflowStore

/// De-duplication by message id is exact whatever the state of the keys' runs: while they are in memory, filed,
/// merged a step at a time or half deleted, through restarts, and when ids share a key.
@Suite struct MessageKeysTests {
    @Test func aMessageIsStoredOncePerSourceThroughFilingMergingAndRestarts() async throws {
        await checkSeeds(runs: 12, share: 10) { try await Self.run(seed: $0) }
    }

    struct Settings {
        let fileAfter: Int, fanout: Int, stepRows: Int, pageEntries: Int, keyMask: UInt64

        func apply(to store: SQLiteStore) {
            store.logFiling.withLock {
                $0.messages.fileAfter = fileAfter
                $0.messages.fanout = fanout
                $0.messages.stepRows = stepRows
                $0.messages.pageEntries = pageEntries
                $0.messages.keyMask = keyMask
            }
        }
    }

    static func run(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let directory = TemporaryDirectory()
        // Small runs of small pages merged in small steps (or filed too rarely to merge), with keys that collide
        // (many entries of a key span pages) or not.
        let settings = Settings(
            fileAfter: [1, 2, 3, 7, 32_768][random.below(5)], fanout: 2 + random.below(2),
            stepRows: [1, 2, 5, 1_000][random.below(4)], pageEntries: [1, 2, 3, 250][random.below(4)],
            keyMask: random.below(2) == 0 ? 0x7 : .max)
        var store = try SQLiteStore(directory: directory.path)
        settings.apply(to: store)
        var stored: Set<String> = []  // "source/id"
        let context = "seed \(seed), \(settings)"
        for step in 0..<(20 + random.below(30)) {
            // Given submissions from two sources of events with ids drawn from a small pool (retries, repeats
            // within a batch, the same id from the other source), and some without an id,
            var submissions: [IngestSubmission] = []
            var expected: [(accepted: Int, deduplicated: Int)] = []
            for _ in 0..<(1 + random.below(3)) {
                let source = Int64(1 + random.below(2))
                var events: [Event] = []
                var counts = (accepted: 0, deduplicated: 0)
                for _ in 0..<(1 + random.below(6)) {
                    let id: String? = random.below(8) == 0 ? nil : "m-\(random.below(40))"
                    events.append(.fixture(anonymous: "a-\(random.below(5))", messageId: id, at: Int64(1_000 + step)))
                    if let id, !stored.insert("\(source)/\(id)").inserted {
                        counts.deduplicated += 1
                    } else {
                        counts.accepted += 1
                    }
                }
                submissions.append(IngestSubmission(sourceID: source, receivedAt: Int64(1_000 + step), events: events))
                expected.append(counts)
            }
            // when they are written (and now and then the store restarts),
            let receipts = try store.ingest(submissions)
            if random.below(5) == 0 {
                try store.close()
                store = try SQLiteStore(directory: directory.path)
                settings.apply(to: store)
            }

            // then each event was stored exactly when its id was new for its source,
            #expect(receipts.map(\.accepted) == expected.map(\.accepted), "\(context), step \(step)")
            #expect(receipts.map(\.deduplicated) == expected.map(\.deduplicated), "\(context), step \(step)")
            // the keys hold every stored id and no other,
            let keys = store.logFiling.withLock { $0.messages }
            let stored = stored
            try await store.pool.read { db in
                for source in [1, 2] as [Int64] {
                    for n in 0..<40 {
                        let held = try keys.holds(keys.message("m-\(n)", source: source), db)
                        #expect(held == stored.contains("\(source)/m-\(n)"), "\(context), step \(step): \(source)/m-\(n)")
                    }
                }
                // every run lookups read holds the keys it was written with,
                for run in keys.runs {
                    let rows = try Int.fetchOne(db, sql: """
                        SELECT coalesce(sum(length(entries)), 0) / 16 FROM message_keys WHERE run = ?
                        """, arguments: [run.id])
                    #expect(rows == run.count, "\(context), step \(step), run \(run.id)")
                }
                // and no other run's rows are left behind: the rest are being merged into or deleted.
                let known = Set(keys.runs.map(\.id) + keys.retired + [keys.building].compactMap { $0 })
                let present = Set(try Int64.fetchAll(db, sql: "SELECT DISTINCT run FROM message_keys"))
                #expect(present.isSubset(of: known), "\(context), step \(step): runs \(present.subtracting(known)) left behind")
            }
        }
    }

    @Test func aLogWrittenBeforeTheKeysIsFiledWhenTheStoreOpens() async throws {
        // Given a database of the version before message keys, whose log holds two messages,
        let directory = TemporaryDirectory()
        try await makeOlderDatabase(at: directory.path, upTo: "v6-events-by-profile-in-bulk") { db in
            for (seq, id) in [(1, "old-1"), (2, "old-2")] {
                try db.execute(sql: """
                    INSERT INTO events(seq, message_id, source_id, type, name, profile_id, ts, received_at, flags, payload)
                    VALUES (?, ?, 1, 'track', 'view_item', 1, 1000, 1000, 0, '{}')
                    """, arguments: [seq, id])
            }
        }

        // when it is opened by this version and the messages are sent again with a new one,
        let store = try SQLiteStore(directory: directory.path)
        let retry = try store.ingest([IngestSubmission(sourceID: 1, receivedAt: 2_000, events: [
            .fixture(anonymous: "a", messageId: "old-1", at: 2_000), .fixture(anonymous: "a", messageId: "old-2", at: 2_000),
            .fixture(anonymous: "a", messageId: "new", at: 2_000),
        ])])[0]

        // then only the new one is stored: the old ones were filed as a run.
        #expect(retry.accepted == 1)
        #expect(retry.deduplicated == 2)
        #expect(store.logFiling.withLock { $0.messages.runs.map(\.count) } == [2])
    }

    @Test func aFilterNeverForgetsAKeyAndRarelyImaginesOne() throws {
        var random = SplitMix64(seed: 7)
        var filter = KeyFilter(capacity: 20_000)
        let keys = (0..<20_000).map { _ in Int64(bitPattern: random.next()) }
        for key in keys { filter.insert(key) }
        #expect(keys.allSatisfy(filter.mayContain))
        let imagined = (0..<100_000).filter { _ in filter.mayContain(Int64(bitPattern: random.next())) }.count
        #expect(imagined < 3_000, "\(imagined) of 100,000 absent keys passed: the filter should pass about 1 %")
        #expect(KeyFilter(bytes: filter.bytes) == filter)
        #expect(KeyFilter(bytes: Data([1, 2, 3])) == nil)
    }
}
