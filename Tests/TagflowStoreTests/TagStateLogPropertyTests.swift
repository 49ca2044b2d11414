import Foundation
import GRDB
import Testing

@testable import TagflowCore
@testable import TagflowStore

/// `TagStateLog` takes the history in at its own pace (filed by profile and tag every few changes, each changed
/// profile's tags saved to `profile_tags` a chunk of profiles a commit, as they are then): whatever the pace,
/// and across restarts in the middle of a save, the stored state is every tag's latest change, and each
/// profile's and tag's history is every change, newest first.
@Suite struct TagStateLogPropertyTests {
    static let tags = ["a", "b", "一个很长的标签名字", "lifecycle"]
    static let values: [RuleValue] = [.bool(true), .string("潜客"), .string("新客"), .number(3), .number(-1.5)]

    @Test func storedStateAndHistoryAreTheChangesWhateverThePace() async throws {
        await checkSeeds(runs: 20, share: 5) { try await Self.run(seed: $0) }
    }

    @Test func aStateSavedByTagAndProfileIsSavedByProfileAtTheUpgrade() async throws {
        // Given a database from before the save by profile: tags of two profiles in `tag_state`, and a change
        // after its counter
        let directory = TemporaryDirectory()
        try await makeOlderDatabase(at: directory.path, upTo: "v9-trait-log") { db in
            try db.execute(sql: """
                INSERT INTO tag_state(tag_id, profile_id, value, since) VALUES
                    ('stage', 1, '"新客"', 100), ('vip', 1, 'true', 200), ('score', 2, '3.5', 300), ('一个标签', 2, '"潜客"', 400);
                INSERT INTO tag_history(id, profile_id, tag_id, old, new, at, cause, recorded_at)
                VALUES (1, 2, 'score', '3.5', NULL, 500, 'time', 500);
                """)
        }

        // When it is upgraded
        let pool = try DatabasePool(path: directory.path + "/tagflow.sqlite")
        defer { try? pool.close() }
        try SQLiteSchema.migrator.migrate(pool)

        // then the stored state is the same: each profile's tags with their values and since-times
        let stored = try await pool.read { db in
            var log = TagStateLog()
            return try log.loadStored(db)
        }
        let kept = stored.flatMap { profile, tags in tags.map { "\(profile.rawValue) \($0.key)=\($0.value.value)@\($0.value.since)" } }
        #expect(kept.sorted() == ["1 stage=\(RuleValue.string("新客"))@100", "1 vip=\(RuleValue.bool(true))@200",
                                  "2 一个标签=\(RuleValue.string("潜客"))@400"])
        let tables = try await pool.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE name LIKE '%tag_state%'") }
        #expect(tables.isEmpty)
    }

    static func run(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(directory: directory.path)
        defer { try? store.close() }
        let pace = (fileAfter: 1 + random.below(20), saveAfter: 1 + random.below(40), chunk: 1 + random.below(10))
        var log = TagStateLog(fileAfter: pace.fileAfter, saveAfter: pace.saveAfter, chunk: pace.chunk)
        let where_ = "pace \(pace), seed \(seed)"

        // The model: every change, and each tag's latest value and since when (what the engine holds).
        var history: [TagChange] = []
        var current: [String: RuleValue] = [:]  // "tag/profile"
        var held: [ProfileID: [String: TagState]] = [:]
        var at: EpochMillis = 1_772_400_000_000
        for step in 0..<(20 + random.below(40)) {
            // Given a commit of a few changes (now and then a restart, perhaps in the middle of a save),
            var changes = TagChanges()
            // (now and then more than a statement of history rows takes: `TagStateLog.rowsAStatement`)
            for _ in 0..<(1 + random.below(random.below(4) == 0 ? 50 : 8)) {
                let profile = ProfileID(Int64(1 + random.below(6))), tag = tags[random.below(tags.count)]
                let key = "\(tag)/\(profile.rawValue)"
                let new: RuleValue? = random.below(3) == 0 ? nil : values[random.below(values.count)]
                guard current[key] != new else { continue }
                at += Int64(1 + random.below(1000))
                changes.append(TagChange(profile: profile, tag: tag, old: current[key], new: new, at: at,
                                         cause: random.below(2) == 0 ? .time : .event(seq: Int64(step))))
                current[key] = new
                held[profile, default: [:]][tag] = new.map { TagState(tag: tag, value: $0, since: at) }
            }
            let (batch, moment, before, now) = (changes, at, log, held)
            log = try await store.pool.write { db in
                var log = before
                try log.record(batch, clock: moment, current: { now[$0].map { Array($0.values) } ?? [] }, db)
                return log
            }
            history += changes
            if random.below(8) == 0 {
                log = try await store.pool.read { db in
                    var log = TagStateLog(fileAfter: pace.fileAfter, saveAfter: pace.saveAfter, chunk: pace.chunk)
                    _ = try log.loadStored(db)
                    return log
                }
            }

            // then the stored state is each tag's latest change, dated by it,
            let stored = try await store.pool.read { db in
                var fresh = TagStateLog()
                return try fresh.loadStored(db)
            }
            var expected: [String: String] = [:]
            for change in history { expected["\(change.tag)/\(change.profile.rawValue)"] = change.new.map { "\($0)@\(change.at)" } }
            var kept: [String: String] = [:]
            for (profile, tags) in stored {
                for (tag, (value, since)) in tags { kept["\(tag)/\(profile.rawValue)"] = "\(value)@\(since)" }
            }
            #expect(kept == expected.compactMapValues { $0 }, "\(where_), step \(step)")

            // and each profile's and tag's history is all of its changes, newest first, a page at a time.
            let filters: [(profile: ProfileID?, tag: String?)] = [
                (ProfileID(Int64(1 + random.below(6))), nil), (nil, tags[random.below(tags.count)]),
                (ProfileID(Int64(1 + random.below(6))), tags[random.below(tags.count)]),
            ]
            for filter in filters {
                let want: [String] = history.reversed()
                    .filter { (filter.profile == nil || $0.profile == filter.profile) && (filter.tag == nil || $0.tag == filter.tag) }
                    .map { "\($0.profile.rawValue) \($0.tag) \(String(describing: $0.new?.json))" }
                let read = try await store.tagHistory(profile: filter.profile, tag: filter.tag, before: nil, limit: 10_000)
                let got: [String] = read.map { "\($0.profile.rawValue) \($0.tag) \(String(describing: $0.new))" }
                #expect(got == want, "\(where_), step \(step), \(filter)")
                if read.count > 3 {
                    let page = try await store.tagHistory(profile: filter.profile, tag: filter.tag, before: read[1].id, limit: 2)
                    #expect(page.map(\.id) == read[2...3].map(\.id), "\(where_), step \(step), page of \(filter)")
                }
            }
        }
    }
}
