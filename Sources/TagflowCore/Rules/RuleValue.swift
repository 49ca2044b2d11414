/// A value a rule computes: what an expression, an aggregate or a tag evaluates to.
///
/// `null` stands for "missing": a property an event does not carry, the average of no events, a tag a
/// profile does not have. Comparisons with `null` are false, arithmetic with it gives `null`.
public enum RuleValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    /// A moment, in milliseconds since the epoch (`first_time(...)`, `last_time(...)`).
    case time(EpochMillis)
    case list([RuleValue])

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// True only for `true`: `null`, numbers and strings are not conditions.
    public var isTrue: Bool {
        if case .bool(true) = self { return true }
        return false
    }

    /// The value as a number: numbers, and strings that spell one (`"1280"`, as order exports send them).
    public var numberValue: Double? {
        switch self {
        case .number(let n): n
        case .string(let s): Double(s.trimmingSpaces)
        case .time(let t): Double(t)
        default: nil
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value as it reads in the rule language and in the API.
    public var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .number(let n): Self.format(n)
        case .string(let s): "\"" + s + "\""
        case .time(let t): Timestamp.format(t)
        case .list(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        }
    }

    /// The value as JSON, the way the API and the tag history show it.
    public var json: JSONValue {
        switch self {
        case .null: .null
        case .bool(let b): .bool(b)
        case .number(let n): n.rounded() == n && abs(n) < 9e15 ? .int(Int64(n)) : .double(n)
        case .string(let s): .string(s)
        case .time(let t): .string(Timestamp.format(t))
        case .list(let items): .array(items.map(\.json))
        }
    }

    /// A property value of an event: scalars as they are, arrays of scalars as lists, objects as `null`.
    public init(_ json: JSONValue) {
        switch json {
        case .null, .object: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .number(Double(i))
        case .double(let d): self = .number(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .list(items.map(RuleValue.init))
        }
    }

    static func format(_ n: Double) -> String {
        if n.rounded() == n, abs(n) < 9e15 { return String(Int64(n)) }
        return String(n)
    }

    /// A total order used only to break ties deterministically (the most frequent value, sorting).
    static func tieBreakPrecedes(_ a: RuleValue, _ b: RuleValue) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)): x < y
        case (.string(let x), .string(let y)): x < y
        default: a.rank < b.rank || (a.rank == b.rank && a.description < b.description)
        }
    }

    private var rank: Int {
        switch self {
        case .null: 0
        case .bool: 1
        case .number: 2
        case .string: 3
        case .time: 4
        case .list: 5
        }
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = self[...]
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return s
    }
}
