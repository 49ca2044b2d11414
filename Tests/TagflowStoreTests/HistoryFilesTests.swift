import Foundation
import GRDB
import Testing

@testable import TagflowCore
@testable import TagflowStore

/// `HistoryFiles` keeps a file row's history ids as the first and the gaps after it; a database from before
/// keeps a row an id, and is filed anew at the upgrade.
@Suite struct HistoryFilesTests {
    @Test func idsAreTheirGapsReadBackWhateverTheirSpread() async {
        await checkSeeds(runs: 200, share: 1) { seed in
            // Given ascending ids with gaps of every size a varint spans (one byte to nine),
            var random = SplitMix64(seed: seed)
            var ids: [Int64] = [Int64(random.below(1_000_000))]
            for _ in 0..<random.below(40) {
                let bits = 1 + random.below(62)
                ids.append(ids[ids.count - 1] + 1 + Int64(random.next() >> UInt64(66 - bits)))
            }
            // when they are written as gaps, then they read back as they were
            let gaps = HistoryFiles.gaps(ids)
            #expect(HistoryFiles.ids(first: ids[0], gaps: gaps) == ids, "seed \(seed)")
        }
    }

    @Test func aFileOfARowAnIdIsFiledAnewAtTheUpgrade() async throws {
        // Given a database from before the files held a row a key a filing: 300 history rows of three profiles
        // and two tags, the first 250 filed a row an id
        let directory = TemporaryDirectory()
        try await makeOlderDatabase(at: directory.path, upTo: "v10-tags-saved-by-profile") { db in
            for id in 1...300 {
                try db.execute(sql: """
                    INSERT INTO tag_history(id, profile_id, tag_id, old, new, at, cause, recorded_at)
                    VALUES (?, ?, ?, NULL, 'true', ?, 'time', ?)
                    """, arguments: [id, 1 + id % 3, id % 7 == 0 ? "稀有" : "common", 1_772_400_000_000 + id, 1_772_400_000_000 + id])
            }
            try db.execute(sql: """
                INSERT INTO tag_history_by_profile(profile_id, id) SELECT profile_id, id FROM tag_history WHERE id <= 250;
                INSERT INTO tag_history_by_tag(tag_id, id) SELECT tag_id, id FROM tag_history WHERE id <= 250;
                UPDATE counters SET value = 250 WHERE name = 'tag_history_filed_id';
                UPDATE counters SET value = 300 WHERE name = 'tag_state_history_id';
                """)
        }

        // When it is upgraded
        let store = try SQLiteStore(directory: directory.path)
        defer { try? store.close() }

        // then each profile's and tag's history is all of its rows, newest first, a page at a time
        let all = try await store.tagHistory(profile: nil, tag: nil, before: nil, limit: 1_000)
        #expect(all.count == 300)
        for (profile, tag) in [(ProfileID(1), nil), (ProfileID(2), "稀有"), (nil, "common"), (nil, "稀有")] as [(ProfileID?, String?)] {
            let want = all.filter { (profile == nil || $0.profile == profile) && (tag == nil || $0.tag == tag) }
            let read = try await store.tagHistory(profile: profile, tag: tag, before: nil, limit: 1_000)
            #expect(read == want, "profile \(String(describing: profile)), tag \(tag ?? "any")")
            let page = try await store.tagHistory(profile: profile, tag: tag, before: want[4].id, limit: 3)
            #expect(page == Array(want[5..<8]), "profile \(String(describing: profile)), tag \(tag ?? "any")")
        }
        let rows = try await store.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM tag_history_by_tag") }
        #expect(rows == 2)
    }
}
