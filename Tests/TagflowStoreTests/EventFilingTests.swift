import Foundation
import GRDB
import Synchronization
import Testing

@testable import TagflowCore
@testable import TagflowStore

/// A profile's events are found through `events_by_profile` (filed in bulk) and the log's tail: whatever the
/// pace of filing, through merges, late events and restarts, a profile's timeline and its first/last seen and
/// count are exactly what the log says (its `profile_id` column, read by brute force).
@Suite struct EventFilingTests {
    @Test func aProfilesEventsAreFoundFiledOrNotThroughMergesLateEventsAndRestarts() async throws {
        await checkSeeds(runs: 12, share: 10) { try await Self.run(seed: $0) }
    }

    static func run(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let directory = TemporaryDirectory()
        let fileAfter = [1, 2, 5, 13, 32_768][random.below(5)]
        var store = try SQLiteStore(directory: directory.path)
        store.logFiling.withLock { $0.events.fileAfter = fileAfter }
        let t0: EpochMillis = 1_772_400_000_000
        var now = t0
        for step in 0..<(10 + random.below(20)) {
            // Given a commit of a few events from visitors who log in now and then (merging their profiles),
            // some of them late,
            var events: [Event] = []
            for _ in 0..<(1 + random.below(5)) {
                now += Int64(1 + random.below(60_000))
                let anonymous = "a-\(random.below(8))", user: String? = random.below(3) == 0 ? "u-\(random.below(4))" : nil
                var identifiers = [Identifier("anonymous_id", anonymous)]
                if let user { identifiers.append(Identifier("user_id", user)) }
                let time = random.below(5) == 0 ? now - Int64(random.below(86_400_000)) : now
                events.append(Event(type: .track, name: "view_item", userId: user, anonymousId: anonymous, timestamp: time,
                                    receivedAt: now, identifiers: identifiers,
                                    payload: ["type": "track", "event": "view_item", "anonymousId": .string(anonymous)]))
            }
            _ = try store.ingest([IngestSubmission(sourceID: 1, receivedAt: now, events: events)])
            if random.below(6) == 0 {  // a restart
                try store.close()
                store = try SQLiteStore(directory: directory.path)
                store.logFiling.withLock { $0.events.fileAfter = fileAfter }
            }

            // then every profile's timeline, paged, and its first/last seen and count are the log's.
            let truth = try await store.pool.read { db in
                try Row.fetchAll(db, sql: "SELECT profile_id, seq, ts FROM events ORDER BY ts DESC, seq DESC")
                    .map { (profile: $0[0] as Int64, seq: $0[1] as Int64, ts: $0[2] as Int64) }
            }
            let profiles = try await store.pool.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM profiles") }
            for profile in profiles {  // those merged away included: they have no events left
                let want = truth.filter { $0.profile == profile }.map(\.seq)
                var got: [Int64] = []
                var cursor: (timestamp: EpochMillis, seq: Int64)?
                while true {
                    let page = try await store.timeline(of: ProfileID(profile), before: cursor, limit: 2)
                    got += page.map(\.seq)
                    guard page.count == 2, let last = page.last, let ts = Timestamp.parse(last.timestamp) else { break }
                    cursor = (ts, last.seq)
                }
                #expect(got == want, "seed \(seed), filed every \(fileAfter), step \(step), profile \(profile)")
                let view = try await store.profile(id: ProfileID(profile))
                let times = truth.filter { $0.profile == profile }.map(\.ts)
                guard let view, view.requestedId == nil else { continue }  // merged away: the survivor's view
                #expect(view.eventCount == Int64(want.count), "seed \(seed), step \(step), profile \(profile)")
                #expect(view.firstSeen == times.min().map(Timestamp.format), "seed \(seed), step \(step), profile \(profile)")
                #expect(view.lastSeen == times.max().map(Timestamp.format), "seed \(seed), step \(step), profile \(profile)")
            }
        }
        try store.close()
    }

    @Test(arguments: [1, 32_768])
    func eventsMovedByAMergeMoveAgainWithTheNext(fileAfter: Int) async throws {
        // Given three visitors' events, filed or not,
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(directory: directory.path)
        defer { try? store.close() }
        store.logFiling.withLock { $0.events.fileAfter = fileAfter }
        let t0: EpochMillis = 1_772_400_000_000
        for (i, anonymous) in ["a-1", "a-2", "a-3"].enumerated() {
            let at = t0 + Int64(i) * 1000
            _ = try store.ingest([IngestSubmission(sourceID: 1, receivedAt: at, events: [
                Event(type: .track, name: "view_item", anonymousId: anonymous, timestamp: at, receivedAt: at,
                      identifiers: [Identifier("anonymous_id", anonymous)], payload: ["type": "track", "event": "view_item"]),
            ])])
        }
        // when profile 1 merges into 2, and 2 into 3,
        try await store.pool.write { db in
            try store.logFiling.withLock { log in
                try log.events.moveEvents(of: ProfileID(1), to: ProfileID(2), db)
                try log.events.moveEvents(of: ProfileID(2), to: ProfileID(3), db)
            }
        }
        // then all three events are profile 3's, in the log and in its timeline.
        let owners = try await store.pool.read { db in try Int64.fetchAll(db, sql: "SELECT profile_id FROM events ORDER BY seq") }
        #expect(owners == [3, 3, 3])
        #expect(try await store.timeline(of: ProfileID(3), before: nil, limit: 10).map(\.seq) == [3, 2, 1])
        #expect(try await store.timeline(of: ProfileID(1), before: nil, limit: 10).isEmpty)
        #expect(try await store.timeline(of: ProfileID(2), before: nil, limit: 10).isEmpty)
    }
}
