/// Writes compiled expressions and features back in the rule language — what explanations show a marketer
/// — with the parentheses the grammar needs and no others (`docs/rules.md`: `or` binds loosest, then `and`,
/// `not`, comparisons, `+ -`, `* / %`, a sign). What it writes compiles back to the same expression.
struct RuleWriter {
    /// The tag set's features, tag ids and regular expressions, which expressions name by number; a number
    /// with no name here is written `feature#3`, `tag#2`, `regex#1` (a debugging description).
    let features: [FeatureSpec]
    let tags: [String]
    let patterns: [RulePattern]

    init(features: [FeatureSpec] = [], tags: [String] = [], patterns: [RulePattern] = []) {
        self.features = features
        self.tags = tags
        self.patterns = patterns
    }

    init(_ tagSet: TagSet) {
        self.init(features: tagSet.features, tags: tagSet.tags.map(\.id), patterns: tagSet.patterns)
    }

    func write(_ expr: RuleExpr) -> String { write(expr, atLeast: .or) }

    func write(_ feature: FeatureSpec) -> String {
        switch feature.kind {
        case .trait(let path): return "trait." + path.joined(separator: ".")
        case .identifier(let type): return "id." + type
        case .aggregate(let function):
            // `sessions in last 7 days`, without parentheses, as a marketer writes it.
            var text = function.rawValue
            if function == .sequence {
                text += "(" + feature.steps.map { $0.selector.description + whereClause($0.filter) }.joined(separator: " -> ")
                if let within = feature.within { text += " within " + Self.duration(within) }
                text += ")"
            } else if function != .sessions {
                text += "(" + feature.selector.description
                    + (feature.property.isEmpty ? "" : "." + feature.property.joined(separator: "."))
                    + whereClause(feature.filter) + (feature.per.map { " per " + $0.joined(separator: ".") } ?? "") + ")"
            }
            return text + Self.window(feature.window)
        }
    }

    private func whereClause(_ filter: RuleExpr?) -> String {
        filter.map { " where " + write($0) } ?? ""
    }

    // MARK: - Expressions

    /// How tightly an expression binds: it needs parentheses where a tighter one is expected.
    private enum Level: Int, Comparable {
        case or = 1, and, not, comparison, sum, product, unary, primary
        static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    private static func level(_ expr: RuleExpr) -> Level {
        switch expr {
        case .or: .or
        case .and: .and
        case .not: .not
        case .compare, .inList, .contains, .startsWith, .endsWith, .matches: .comparison
        case .arithmetic(let op, _, _): op == .add || op == .subtract ? .sum : .product
        case .negate: .unary
        case .literal, .list, .property, .feature, .tag, .function: .primary
        }
    }

    private func write(_ expr: RuleExpr, atLeast level: Level) -> String {
        let text = bare(expr)
        return Self.level(expr) < level ? "(" + text + ")" : text
    }

    private func bare(_ expr: RuleExpr) -> String {
        switch expr {
        case .literal(let value): return value.description
        case .list(let items): return "[" + items.map { write($0, atLeast: .sum) }.joined(separator: ", ") + "]"
        case .property(let path): return path.joined(separator: ".")
        case .feature(let i): return features.indices.contains(i) ? write(features[i]) : "feature#\(i)"
        case .tag(let i): return "tag." + (tags.indices.contains(i) ? tags[i] : "#\(i)")
        case .not(let e): return "not " + write(e, atLeast: .not)
        case .negate(let e): return "-" + write(e, atLeast: .unary)
        case .and(let a, let b): return write(a, atLeast: .and) + " and " + write(b, atLeast: .not)
        case .or(let a, let b): return write(a, atLeast: .or) + " or " + write(b, atLeast: .and)
        case .arithmetic(let op, let a, let b):
            let level = Self.level(expr)
            return write(a, atLeast: level) + " \(op.rawValue) " + write(b, atLeast: level == .sum ? .product : .unary)
        case .compare(let op, let a, let b): return binary(a, op.rawValue, b)
        case .inList(let a, let b): return binary(a, "in", b)
        case .contains(let a, let b): return binary(a, "contains", b)
        case .startsWith(let a, let b): return binary(a, "starts with", b)
        case .endsWith(let a, let b): return binary(a, "ends with", b)
        case .matches(let a, let i):
            let pattern = patterns.indices.contains(i) ? RuleValue.string(patterns[i].pattern).description : "regex#\(i)"
            return write(a, atLeast: .sum) + " matches " + pattern
        case .function(let f, let args): return f.rawValue + "(" + args.map(write).joined(separator: ", ") + ")"
        }
    }

    private func binary(_ a: RuleExpr, _ op: String, _ b: RuleExpr) -> String {
        write(a, atLeast: .sum) + " \(op) " + write(b, atLeast: .sum)
    }

    // MARK: - Windows and durations

    /// Units as written back: days rather than weeks (`in last 7 days`, as marketers count).
    static let units: [(Int64, String)] = [(86_400_000, "days"), (3_600_000, "hours"), (60_000, "minutes"), (1000, "seconds")]

    /// The largest unit that divides every one of `values`.
    static func amount(_ values: Int64...) -> (Int64, String) {
        units.first { unit in values.allSatisfy { $0 % unit.0 == 0 } } ?? (1, "milliseconds")
    }

    /// `3 days`, `90 minutes`.
    static func duration(_ ms: Int64) -> String {
        let (unit, name) = amount(ms)
        let count = ms / unit
        return "\(count) " + (count == 1 ? String(name.dropLast()) : name)
    }

    static func window(_ window: TimeWindow) -> String {
        switch window {
        case .allTime: return ""
        case .sliding(let ms): return " in last " + duration(ms)
        case .range(let older, let newer):
            let (unit, name) = amount(older, newer)
            return " between \(older / unit) and \(newer / unit) \(name) ago"
        case .calendarDays(1): return " today"
        case .calendarDays(let n): return " in last \(n) calendar days"
        case .thisWeek: return " this week"
        case .thisMonth: return " this month"
        }
    }
}
