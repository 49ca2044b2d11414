import Foundation
import GRDB
import Synchronization
import Testing

@testable import TagflowCore
@testable import TagflowStore

/// A profile's traits are, for each key, the value of its latest identify (by event time), whatever the pace
/// at which trait writes are folded from the log into `traits`, through merges, late identifies and restarts:
/// the profile view and the consent check agree with the events themselves, read by brute force.
@Suite struct TraitLogTests {
    @Test func traitsAreTheLatestIdentifysFoldedOrNotThroughMergesAndRestarts() async throws {
        await checkSeeds(runs: 12, share: 10) { try await Self.run(seed: $0) }
    }

    static func run(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let directory = TemporaryDirectory()
        let foldAfter = [1, 2, 5, 32_768][random.below(4)]
        var store = try SQLiteStore(directory: directory.path)
        store.logFiling.withLock { $0.traits.foldAfter = foldAfter }
        var traitsBySeq: [Int64: (at: EpochMillis, traits: JSONObject)] = [:]
        var seq: Int64 = 0
        var times: Set<EpochMillis> = []
        var now: EpochMillis = 1_772_400_000_000
        let context = "seed \(seed), folded every \(foldAfter)"
        for step in 0..<(10 + random.below(20)) {
            // Given commits of visitors who log in now and then (merging their profiles), a third of the events
            // identify calls setting some traits, some of them late (every event at a moment of its own),
            var events: [Event] = []
            for _ in 0..<(1 + random.below(5)) {
                now += Int64(1 + random.below(60_000))
                var time = random.below(4) == 0 ? now - Int64(random.below(86_400_000)) : now
                while !times.insert(time).inserted { time += 1 }
                let anonymous = "a-\(random.below(8))", user: String? = random.below(3) == 0 ? "u-\(random.below(4))" : nil
                var traits = JSONObject()
                if random.below(3) == 0 {
                    if random.below(2) == 0 { traits["city"] = .string(["上海", "北京", "深圳"][random.below(3)]) }
                    if random.below(2) == 0 { traits["age"] = .int(Int64(20 + random.below(40))) }
                    if random.below(2) == 0 { traits["consent"] = ["sms": .bool(random.below(2) == 0)] }
                }
                events.append(.fixture(traits.isEmpty ? .track : .identify, name: traits.isEmpty ? "view_item" : nil,
                                       user: user, anonymous: anonymous, at: time, traits: traits))
                seq += 1
                traitsBySeq[seq] = (time, traits)
            }
            _ = try store.ingest([IngestSubmission(sourceID: 1, receivedAt: now, events: events)])
            if random.below(6) == 0 {  // a restart
                try store.close()
                store = try SQLiteStore(directory: directory.path)
                store.logFiling.withLock { $0.traits.foldAfter = foldAfter }
            }

            // then each profile's traits are, key by key, those of its latest identify setting the key,
            let owners = try await store.pool.read { db in
                try Row.fetchAll(db, sql: "SELECT seq, profile_id FROM events").map { (seq: $0[0] as Int64, profile: $0[1] as Int64) }
            }
            var want: [Int64: [String: (at: EpochMillis, value: JSONValue)]] = [:]
            for (seq, profile) in owners {
                let (at, traits) = traitsBySeq[seq]!
                for field in traits.fields where (want[profile]?[field.key]?.at ?? .min) < at {
                    want[profile, default: [:]][field.key] = (at, field.value)
                }
            }
            let profiles = Set(owners.map(\.profile))
            for profile in profiles {
                let view = try #require(try await store.profile(id: ProfileID(profile)))
                let got = Dictionary(uniqueKeysWithValues: (view.traits.objectValue?.fields ?? []).map { ($0.key, $0.value) })
                let expected = (want[profile] ?? [:]).mapValues(\.value)
                #expect(got == expected, "\(context), step \(step), profile \(profile)")
            }
            // and consent withdrawn is what the latest consent said.
            let withdrawn = try store.withdrawnConsent(profiles.map { (ProfileID($0), "sms") })
            let expected = Set(profiles.filter { want[$0]?["consent"]?.value.objectValue?["sms"] == .bool(false) }.map { "\($0)#sms" })
            #expect(withdrawn == expected, "\(context), step \(step)")
        }
        try store.close()
    }
}
