/// What an expression reads while it is evaluated: one event's properties inside `where`, or a profile's
/// features and tags at a moment. `until` collects the first moment the result could change with time alone.
protocol RuleContext {
    var time: EpochMillis { get }
    var until: EpochMillis { get set }
    var patterns: [RulePattern] { get }
    func property(_ path: [String]) -> RuleValue
    mutating func feature(_ index: Int) -> RuleValue
    func tag(_ index: Int) -> RuleValue
    /// For a feature that time can only lower (a count, distinct count or number of sessions in a sliding or
    /// calendar window), the moment it can first drop below `threshold` (never later than it does);
    /// `.max` when it is below already; nil when the feature is not of that kind.
    mutating func momentBelow(_ threshold: Threshold, feature index: Int) -> EpochMillis?
}

extension RuleContext {
    mutating func momentBelow(_ threshold: Threshold, feature index: Int) -> EpochMillis? { nil }
}

/// What a comparison with a number asks of a figure: `x >= 5` and `x < 5` whether it is at least 5
/// (inclusive), `x > 5` and `x <= 5` whether it is above 5.
struct Threshold {
    var bound: Double
    var inclusive: Bool
    /// `<` or `<=`: true while the figure does not hold the threshold (and is not null).
    var asksBelow: Bool

    init(_ op: ComparisonOperator, _ bound: Double) {
        self.bound = bound
        inclusive = op == .greaterOrEqual || op == .less
        asksBelow = op == .less || op == .lessOrEqual
    }

    func holds(_ figure: Double) -> Bool { inclusive ? figure >= bound : figure > bound }

    /// The least whole number that holds, for figures that are whole (counts, days).
    var wholeAtLeast: Double { inclusive ? bound.rounded(.up) : bound.rounded(.down) + 1 }
}

let millisPerDay: Int64 = 86_400_000

extension RuleExpr {
    /// `contains`: a string holding a text, or a list holding a value.
    static func contains(_ haystack: RuleValue, _ needle: RuleValue) -> Bool {
        switch haystack {
        case .string(let s):
            guard let n = needle.plainText, !n.isEmpty else { return false }
            return s.contains(n)
        case .list(let items): return items.contains { compare(.equal, $0, needle) }
        default: return false
        }
    }

    /// A function of one value (every function but `coalesce`, which takes the first non-null argument).
    static func apply<Context: RuleContext>(
        _ function: ScalarFunction, to value: RuleValue, in context: inout Context
    ) -> RuleValue {
        switch function {
        case .daysSince:
            guard let moment = value.moment else { return .null }
            let days = floorDiv(context.time - moment, millisPerDay)
            context.until = min(context.until, moment + (days + 1) * millisPerDay)
            return .number(Double(days))
        case .lower: return value.plainText.map { .string($0.lowercased()) } ?? .null
        case .upper: return value.plainText.map { .string($0.uppercased()) } ?? .null
        case .length:
            switch value {
            case .string(let s): return .number(Double(s.count))
            case .list(let items): return .number(Double(items.count))
            default: return .null
            }
        case .abs: return value.numberValue.map { .number(Swift.abs($0)) } ?? .null
        case .round: return value.numberValue.map { .number($0.rounded(.toNearestOrAwayFromZero)) } ?? .null
        case .floor: return value.numberValue.map { .number($0.rounded(.down)) } ?? .null
        case .ceil: return value.numberValue.map { .number($0.rounded(.up)) } ?? .null
        case .coalesce: return value
        }
    }

    static func arithmetic(_ op: ArithmeticOperator, _ a: RuleValue, _ b: RuleValue) -> RuleValue {
        guard let x = a.numberValue, let y = b.numberValue else { return .null }
        switch op {
        case .add: return .number(x + y)
        case .subtract: return .number(x - y)
        case .multiply: return .number(x * y)
        case .divide: return y == 0 ? .null : .number(x / y)
        case .remainder: return y == 0 ? .null : .number(x.truncatingRemainder(dividingBy: y))
        }
    }

    /// Comparison as rules mean it: `null` equals only `null` and orders with nothing; a number and a
    /// string that spells a number compare as numbers.
    static func compare(_ op: ComparisonOperator, _ a: RuleValue, _ b: RuleValue) -> Bool {
        if case .number(let x) = a, case .number(let y) = b { return compare(op, x, y) }
        if op == .equal { return equal(a, b) }
        if op == .notEqual { return !equal(a, b) }
        guard let order = order(a, b) else { return false }
        switch op {
        case .less: return order < 0
        case .lessOrEqual: return order <= 0
        case .greater: return order > 0
        case .greaterOrEqual: return order >= 0
        case .equal, .notEqual: return false
        }
    }

    /// Two numbers compared as ``order(_:_:)`` orders them (NaN after every number): no values built.
    @inline(__always)
    static func compare(_ op: ComparisonOperator, _ x: Double, _ y: Double) -> Bool {
        switch op {
        case .equal: x == y
        case .notEqual: !(x == y)
        case .less: x < y
        case .lessOrEqual: x < y || x == y
        case .greater: !(x < y || x == y)
        case .greaterOrEqual: !(x < y)
        }
    }

    static func equal(_ a: RuleValue, _ b: RuleValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.null, _), (_, .null): return false
        case (.string(let x), .string(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.list(let x), .list(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        default:
            if let o = order(a, b) { return o == 0 }
            return false
        }
    }

    private static func order(_ a: RuleValue, _ b: RuleValue) -> Int? {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x < y ? -1 : x == y ? 0 : 1
        case (.time(let x), .time(let y)): return x < y ? -1 : x == y ? 0 : 1
        case (.number, _), (_, .number):
            guard let x = a.numberValue, let y = b.numberValue else { return nil }
            return x < y ? -1 : x == y ? 0 : 1
        default: return nil
        }
    }
}

extension RuleValue {
    /// Text as `contains` and `starts with` read it: strings, and numbers written out.
    var plainText: String? {
        switch self {
        case .string(let s): s
        case .number(let n): RuleValue.format(n)
        default: nil
        }
    }

    /// The value as a moment: a time, epoch millis, or a timestamp string.
    var moment: EpochMillis? {
        switch self {
        case .time(let t): t
        case .number(let n): EpochMillis(n)
        case .string(let s): Timestamp.parse(s)
        default: nil
        }
    }
}
