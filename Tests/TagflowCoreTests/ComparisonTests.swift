import PropertyBased
import Testing
@testable import TagflowCore

/// Comparisons of numbers take a shortcut past the general ordering of values; it must agree with it
/// everywhere, NaN and signed zeros included (the engine and the reference evaluator share `compare`, so the
/// property tests of the engine cannot see a wrong answer here).
@Suite struct ComparisonTests {
    static let numbers: [Double] = [.nan, -.infinity, -1.5, -0.0, 0, 1, 1.5, 3, .infinity, .greatestFiniteMagnitude]
    static let operators: [ComparisonOperator] = [.equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual]

    /// The ordering of two numbers as the rule language defines it: below, equal, or else after (NaN
    /// included: it is after every number, and after itself).
    static func expected(_ op: ComparisonOperator, _ x: Double, _ y: Double) -> Bool {
        let order = x < y ? -1 : x == y ? 0 : 1
        switch op {
        case .equal: return order == 0
        case .notEqual: return order != 0
        case .less: return order < 0
        case .lessOrEqual: return order <= 0
        case .greater: return order > 0
        case .greaterOrEqual: return order >= 0
        }
    }

    @Test func numbersCompareAsTheirOrder() {
        for op in Self.operators {
            for x in Self.numbers {
                for y in Self.numbers {
                    let want = Self.expected(op, x, y)
                    #expect(RuleExpr.compare(op, x, y) == want, "\(x) \(op) \(y)")
                    #expect(RuleExpr.compare(op, RuleValue.number(x), .number(y)) == want, "\(x) \(op) \(y) as values")
                }
            }
        }
    }

    @Test func aNumberAndTextThatSpellsOneCompareAsNumbers() async {
        await propertyCheck(count: 200, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            let x = Double(random.int(7)) - 3
            let y = Double(random.int(7)) - 3
            let op = Self.operators[random.int(Self.operators.count)]
            let text = RuleValue.string(" \(RuleValue.format(y)) ")
            #expect(RuleExpr.compare(op, .number(x), text) == Self.expected(op, x, y), "seed \(seed)")
        }
    }
}
