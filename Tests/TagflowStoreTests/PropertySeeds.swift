import Foundation
import PropertyBased
import Testing

@testable import TagflowCore

/// Runs `scenario` for random seeds: `runs` of them, or `TAGFLOW_PROPERTY_RUNS / share` when that is set
/// (`TAGFLOW_PROPERTY_RUNS=200 swift test --filter …` for a long hunt). A failing seed is named, so the
/// scenario can be run again with it.
func checkSeeds(runs: Int, share: Int, _ scenario: @escaping @Sendable (UInt64) async throws -> Void) async {
    let count = Int(ProcessInfo.processInfo.environment["TAGFLOW_PROPERTY_RUNS"] ?? "").map { max(1, $0 / share) } ?? runs
    await propertyCheck(count: count, input: Gen.uint64()) { seed in
        do {
            try await scenario(seed)
        } catch {
            Issue.record("seed \(seed): \(error)")
        }
    }
}

extension SplitMix64 {
    /// A number in `0..<n`.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
