/// Which events an aggregate looks at.
public enum EventSelector: Sendable, Hashable, CustomStringConvertible {
    /// Every event of the profile.
    case any
    /// Track events with this name; `page`, `screen`, `identify`, `group` and `alias` name those calls.
    case named(String)

    public func matches(_ name: String) -> Bool {
        switch self {
        case .any: true
        case .named(let n): n == name
        }
    }

    public var description: String {
        switch self {
        case .any: "any"
        case .named(let n): n
        }
    }
}

/// The span of time an aggregate covers, relative to the moment it is evaluated.
public enum TimeWindow: Sendable, Hashable {
    /// Every event ever.
    case allTime
    /// Events newer than this many milliseconds ago: `in last 3 days`.
    case sliding(Int64)
    /// Events between `older` and `newer` milliseconds ago: `between 90 and 30 days ago`.
    case range(older: Int64, newer: Int64)
    /// Events since the start of the day `days - 1` days ago, in the workspace time zone: `today` is 1.
    case calendarDays(Int)
    /// Since Monday 00:00 in the workspace time zone.
    case thisWeek
    /// Since the first of the month, 00:00 in the workspace time zone.
    case thisMonth

    /// The window moves with the clock, so time alone can change what is in it.
    public var isTimeDependent: Bool { self != .allTime }
}

/// What an aggregate computes from the events in its window.
public enum AggregateFunction: String, Sendable, Hashable, CaseIterable {
    case count, sum, avg, min, max, distinct, top, first, last
    case firstTime = "first_time", lastTime = "last_time"
    case exists, sessions, sequence
}

/// One step of an ordered sequence: `view_item where project = "玻尿酸"`.
public struct SequenceStep: Sendable, Hashable {
    public var selector: EventSelector
    public var filter: RuleExpr?
}

/// A per-profile quantity computed from that profile's events and kept by the engine. Tags that compute the
/// same thing share one feature.
public struct FeatureSpec: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case aggregate(AggregateFunction)
        /// The latest value (by event time) an identify call or `context.traits` gave this trait path.
        case trait([String])
        /// The latest identifier of this type seen on the profile's events.
        case identifier(String)
    }

    public var kind: Kind
    public var selector: EventSelector = .any
    /// The property the aggregate reads (`amount` of `sum(pay_order.amount)`); empty for `count`.
    public var property: [String] = []
    public var filter: RuleExpr?
    /// Group by this property; the largest group's figure is the value.
    public var per: [String]?
    public var steps: [SequenceStep] = []
    /// A sequence's whole span must fit in this many milliseconds.
    public var within: Int64?
    public var window: TimeWindow = .allTime

    /// As the rule language writes it (regular expressions by number: an explanation writes them out).
    public var description: String { RuleWriter().write(self) }
}

/// A checked, name-resolved expression, ready to evaluate.
public indirect enum RuleExpr: Sendable, Hashable, CustomStringConvertible {
    case literal(RuleValue)
    case list([RuleExpr])
    /// A property of the event being filtered (only inside `where`).
    case property([String])
    /// The current value of a feature of the profile.
    case feature(Int)
    /// The current value of another tag of the profile.
    case tag(Int)
    case not(RuleExpr)
    case negate(RuleExpr)
    case and(RuleExpr, RuleExpr)
    case or(RuleExpr, RuleExpr)
    case arithmetic(ArithmeticOperator, RuleExpr, RuleExpr)
    case compare(ComparisonOperator, RuleExpr, RuleExpr)
    case inList(RuleExpr, RuleExpr)
    case contains(RuleExpr, RuleExpr)
    case startsWith(RuleExpr, RuleExpr)
    case endsWith(RuleExpr, RuleExpr)
    /// The second operand indexes the tag set's compiled regular expressions.
    case matches(RuleExpr, Int)
    case function(ScalarFunction, [RuleExpr])

    /// As the rule language writes it, features and tags by number (``RuleWriter`` names them).
    public var description: String { RuleWriter().write(self) }

}

public enum ArithmeticOperator: String, Sendable, Hashable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"
}

public enum ComparisonOperator: String, Sendable, Hashable {
    case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
}

/// Functions of plain values.
public enum ScalarFunction: String, Sendable, Hashable, CaseIterable {
    /// Whole 24-hour periods since a moment: `days_since(last_time(pay_order))`.
    case daysSince = "days_since"
    case lower, upper, length, abs, round, floor, ceil, coalesce
}

/// The kinds of tag: a profile has it or not; it takes the value of the first matching case; or it takes the
/// value of an expression.
public enum TagRule: Sendable, Hashable {
    case boolean(RuleExpr)
    case cases([(value: String, condition: RuleExpr)], otherwise: String?)
    case valued(RuleExpr)

    public static func == (a: TagRule, b: TagRule) -> Bool {
        switch (a, b) {
        case (.boolean(let x), .boolean(let y)), (.valued(let x), .valued(let y)): x == y
        case (.cases(let x, let ox), .cases(let y, let oy)):
            ox == oy && x.count == y.count && zip(x, y).allSatisfy { $0.value == $1.value && $0.condition == $1.condition }
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .boolean(let e), .valued(let e): hasher.combine(e)
        case .cases(let cases, let otherwise):
            for c in cases {
                hasher.combine(c.value)
                hasher.combine(c.condition)
            }
            hasher.combine(otherwise)
        }
    }

}

/// The categories of the tag system of the seeds.
public enum TagCategory: String, Sendable, Hashable, Codable, CaseIterable {
    case basic, behavior, interest, lifecycle, value, sentiment, predictive
}

/// One checked tag.
public struct TagDefinition: Sendable, Hashable {
    public var id: String
    public var displayName: String
    public var category: TagCategory
    public var description: String
    public var owner: String
    public var rule: TagRule
    /// A segment (audience): a boolean tag written `segment <id>`, listed and served apart from tags.
    public var isSegment = false
    /// The tag's text as written, kept for versions, diffs and the API.
    public var source: String
}

/// A compiled regular expression, shared read-only between threads.
public final class RulePattern: @unchecked Sendable, Hashable {
    public let pattern: String
    let regex: Regex<AnyRegexOutput>

    init(_ pattern: String) throws {
        self.pattern = pattern
        regex = try Regex(pattern)
    }

    /// Not inlined: a match's storage has a size known only at run time, and a caller holding it (the rule
    /// evaluator, recursive over every node) set up that storage at each call, regex or not.
    @inline(never)
    func matches(_ text: String) -> Bool { (try? regex.firstMatch(in: text)) != nil }

    public static func == (a: RulePattern, b: RulePattern) -> Bool { a.pattern == b.pattern }
    public func hash(into hasher: inout Hasher) { hasher.combine(pattern) }
}
