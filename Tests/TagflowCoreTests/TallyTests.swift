import PropertyBased
import Testing
@testable import TagflowCore

/// A tally keeps the same figures as a dictionary would, small or past the point it becomes one.
@Suite struct TallyTests {
    @Test func tallyAgreesWithADictionary() async {
        await propertyCheck(count: 200, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            let keyCount = [3, 12, 40][random.int(3)]
            func key(_ i: Int) -> RuleValue {
                switch i % 3 {
                case 0: return .number(Double(i))
                case 1: return .string("项目\(i)")
                default: return .string("a-long-enough-text-value-\(i)")
                }
            }
            let table = ValueTable()
            let keys = (0..<keyCount).map { table.pack(key($0)) }
            var tally = Tally(), expected: [PackedValue: Double] = [:]
            for _ in 0..<random.int(300) {
                let key = keys[random.int(keys.count)]
                switch random.int(4) {
                case 0, 1:
                    tally.add(1, to: key)
                    expected[key, default: 0] += 1
                case 2:
                    tally.add(-1, to: key, removingZero: true)
                    let left = (expected[key] ?? 0) - 1
                    expected[key] = left == 0 ? nil : left
                default:
                    tally.remove(key)
                    expected[key] = nil
                }
                #expect(tally.count == expected.count, "seed \(seed)")
            }
            #expect(Dictionary(tally.entries.map { ($0.key, $0.figure) }, uniquingKeysWith: +) == expected, "seed \(seed)")
            #expect(tally.largest == expected.values.max(), "seed \(seed)")
            let doubled = tally.merging(tally)
            #expect(Dictionary(doubled.entries.map { ($0.key, $0.figure) }, uniquingKeysWith: +) == expected.mapValues { $0 * 2 })
        }
    }
}

extension SplitMix64 {
    /// A whole number in `0..<bound`.
    mutating func int(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
