/// How a boolean tag's condition moves when one of its features' figures rises: the condition `rises` with
/// the figure (`count(…) >= 3`, `exists(…)`, `sessions … > 2`, and those joined by `and`/`or`), `falls` with
/// it (`not exists(…)`, `count(…) < 2`), or either (`= 3`, a figure inside arithmetic or a function).
///
/// An event that only raises figures a tag's condition rises with cannot take away a tag the profile has;
/// one that only raises figures it falls with cannot give it one the profile lacks. Such an evaluation
/// would change nothing, and the moment the tag is next due stays a safe one: the figures it reads are, at
/// every later moment, at least what they were without the event (the event stays in each window until its
/// end), so the tag holds at least as long (or stays absent at least as long) as it would have — firing at
/// the old moment evaluates it then and finds its true next one.
enum TagPolarity: UInt8 {
    /// The figure may move the condition either way: the tag must be evaluated.
    case either = 0
    case rises = 1
    case falls = 2

    /// The polarity of `condition` in `feature`; nil when the condition does not read it.
    static func of(_ condition: RuleExpr, in feature: Int, logic: [FeatureLogic]) -> TagPolarity? {
        switch condition {
        case .and(let a, let b), .or(let a, let b):
            return joined(of(a, in: feature, logic: logic), of(b, in: feature, logic: logic))
        case .not(let inner):
            return of(inner, in: feature, logic: logic).map(\.flipped)
        case .feature(feature) where logic[feature].function == .exists || logic[feature].function == .sequence:
            return .rises
        case .compare(let op, .feature(feature), .literal(.number)):
            return polarity(of: op, logic[feature])
        case .compare(let op, .literal(.number), .feature(feature)):
            return polarity(of: op, logic[feature]).flipped
        default:
            return condition.reads(feature: feature) ? .either : nil
        }
    }

    /// A largest figure starts as null, which holds no comparison: from null to a number, `max(…) < 50`
    /// goes from false to true.
    private static func polarity(of op: ComparisonOperator, _ logic: FeatureLogic) -> TagPolarity {
        switch op {
        case .greater, .greaterOrEqual: .rises
        case .less, .lessOrEqual: logic.function == .max ? .either : .falls
        case .equal, .notEqual: .either
        }
    }

    private static func joined(_ a: TagPolarity?, _ b: TagPolarity?) -> TagPolarity? {
        guard let a else { return b }
        guard let b else { return a }
        return a == b ? a : .either
    }

    private var flipped: TagPolarity {
        switch self {
        case .rises: .falls
        case .falls: .rises
        case .either: .either
        }
    }
}

extension FeatureLogic {
    /// Whether `entry`, folded in, leaves the feature's figure at every later moment at least what it would
    /// have been: a count, a distinct count, whether any matched, a largest figure, a sequence's completion;
    /// a sum when the amount is not negative; sessions only for an event after every other of the profile
    /// (`inOrder`: a late one may join two sessions into one).
    func rises(with entry: FeatureEntry?, inOrder: Bool) -> Bool {
        switch function {
        case .count, .distinct, .exists, .max, .sequence: return true
        case .sessions: return inOrder
        case .sum: return (entry?.value.numberValue).map { $0 >= 0 } ?? true
        default: return false
        }
    }
}

extension RuleExpr {
    /// Whether the expression reads feature `index` anywhere.
    func reads(feature index: Int) -> Bool {
        switch self {
        case .feature(let i): i == index
        case .literal, .property, .tag: false
        case .list(let items): items.contains { $0.reads(feature: index) }
        case .not(let e), .negate(let e), .matches(let e, _): e.reads(feature: index)
        case .and(let a, let b), .or(let a, let b), .arithmetic(_, let a, let b), .compare(_, let a, let b),
             .inList(let a, let b), .contains(let a, let b), .startsWith(let a, let b), .endsWith(let a, let b):
            a.reads(feature: index) || b.reads(feature: index)
        case .function(_, let args): args.contains { $0.reads(feature: index) }
        }
    }
}
