/// A segment's condition as set algebra over tag memberships, when it can be written so: `and`, `or` and
/// `not` over conditions that each read one tag's value (`tag.paid_30d`, `tag.lifecycle in ["沉睡", "流失"]`,
/// `tag.score > 50`). Such a segment's members can be computed from the tag bitmaps alone, at once, without
/// replaying any event: that is how a new segment's size is previewed.
public indirect enum AudiencePlan: Sendable, CustomStringConvertible {
    case constant(Bool)
    /// Profiles whose value of the tag passes the test.
    case tagValue(String, TagValueTest)
    case and(AudiencePlan, AudiencePlan)
    case or(AudiencePlan, AudiencePlan)
    case not(AudiencePlan)

    public var description: String {
        switch self {
        case .constant(let value): "\(value)"
        case .tagValue(let tag, let test): "test(tag.\(tag): \(test.expression))"
        case .and(let a, let b): "(\(a) and \(b))"
        case .or(let a, let b): "(\(a) or \(b))"
        case .not(let a): "not \(a)"
        }
    }

    /// The tags the plan reads.
    public var tags: Set<String> {
        switch self {
        case .constant: []
        case .tagValue(let tag, _): [tag]
        case .and(let a, let b), .or(let a, let b): a.tags.union(b.tags)
        case .not(let a): a.tags
        }
    }
}

/// A condition on one tag's value, evaluated exactly as the engine would evaluate it for a profile.
public struct TagValueTest: Sendable {
    let expression: ExprCode
    let tagIndex: Int
    public let isBoolean: Bool
    let patterns: [RulePattern]

    /// Whether a profile whose value of the tag is `value` (nil: the profile does not have it) passes.
    public func accepts(_ value: RuleValue?) -> Bool {
        let seen = value.map { isBoolean ? .bool(true) : $0 } ?? (isBoolean ? .bool(false) : .null)
        var context = OneTagContext(tagIndex: tagIndex, value: seen, patterns: patterns)
        return expression.evaluate(in: &context).isTrue
    }
}

/// The context of a test: the one tag's value, and nothing else (the plan reads no feature or event).
private struct OneTagContext: RuleContext {
    let tagIndex: Int
    let value: RuleValue
    let patterns: [RulePattern]
    var time: EpochMillis { 0 }
    var until: EpochMillis = .max

    func property(_ path: [String]) -> RuleValue { .null }
    mutating func feature(_ index: Int) -> RuleValue { .null }
    func tag(_ index: Int) -> RuleValue { index == tagIndex ? value : .null }
}

extension TagSet {
    /// The segment's (or boolean tag's) condition as set algebra over tags; nil when it reads anything else
    /// (traits, identifiers, aggregates over events, days since...), which only the engine can keep.
    public func audiencePlan(of id: String) -> AudiencePlan? {
        guard let tag = self[id], case .boolean(let condition) = tag.rule else { return nil }
        return plan(condition)
    }

    private func plan(_ expr: RuleExpr) -> AudiencePlan? {
        switch expr {
        case .and(let a, let b):
            guard let a = plan(a), let b = plan(b) else { return nil }
            return .and(a, b)
        case .or(let a, let b):
            guard let a = plan(a), let b = plan(b) else { return nil }
            return .or(a, b)
        case .not(let a):
            return plan(a).map { .not($0) }
        default:
            var tagsRead = Set<Int>()
            var readsMore = false
            expr.visit { e in
                switch e {
                case .tag(let index): tagsRead.insert(index)
                case .feature, .property, .function(.daysSince, _): readsMore = true
                default: break
                }
            }
            guard !readsMore, tagsRead.count <= 1 else { return nil }
            guard let index = tagsRead.first else {
                var context = OneTagContext(tagIndex: -1, value: .null, patterns: patterns)
                return .constant(expr.evaluate(in: &context).isTrue)
            }
            let isBoolean = if case .boolean = tags[index].rule { true } else { false }
            return .tagValue(tags[index].id, TagValueTest(expression: ExprCode(expr), tagIndex: index, isBoolean: isBoolean, patterns: patterns))
        }
    }
}
