/// How a condition moves when one of its features' figures rises: it `rises` with the figure
/// (`count(…) >= 3`, `exists(…)`, `sessions … > 2`, and those joined by `and`/`or`), `falls` with it
/// (`not exists(…)`, `count(…) < 2`, `days_since(last_time(…)) >= 7` as the latest event gets later), or
/// either (`= 3`, a figure inside arithmetic or another function).
///
/// So an event that only raises figures cannot change some tag values (``FeatureReaders``): a condition
/// that rises with them and held still holds; one that falls with them and did not hold still does not.
/// The moment such a tag is next due stays a safe one: the figures it reads are, at every later moment, at
/// least what they were without the event (the event stays in each window until its end), so the value
/// lasts at least as long as it would have — firing at the old moment evaluates the tag and finds its next.
enum TagPolarity: Equatable {
    case either
    case rises
    case falls

    /// The polarity of `condition` in `feature`; nil when the condition does not read it.
    static func of(_ condition: RuleExpr, in feature: Int, logic: [FeatureLogic]) -> TagPolarity? {
        switch condition {
        case .and(let a, let b), .or(let a, let b):
            return joined(of(a, in: feature, logic: logic), of(b, in: feature, logic: logic))
        case .not(let inner):
            return of(inner, in: feature, logic: logic).map(\.flipped)
        case .feature(feature) where logic[feature].function == .exists || logic[feature].function == .sequence:
            return .rises
        case .compare(let op, let figure, .literal(.number)):
            return polarity(of: figure, op, feature, logic) ?? (condition.reads(feature: feature) ? .either : nil)
        case .compare(let op, .literal(.number), let figure):
            return polarity(of: figure, op, feature, logic)?.flipped ?? (condition.reads(feature: feature) ? .either : nil)
        default:
            return condition.reads(feature: feature) ? .either : nil
        }
    }

    /// `figure op number`: the feature itself (a largest figure starts as null, which holds no comparison:
    /// from null to a number, `max(…) < 50` goes from false to true), or the days since an all-time latest
    /// moment (which only moves later: the days fall). Nil for any other operand.
    private static func polarity(
        of figure: RuleExpr, _ op: ComparisonOperator, _ feature: Int, _ logic: [FeatureLogic]
    ) -> TagPolarity? {
        let rising: TagPolarity
        switch op {
        case .greater, .greaterOrEqual: rising = .rises
        case .less, .lessOrEqual: rising = .falls
        case .equal, .notEqual: rising = .either
        }
        switch figure {
        case .feature(feature):
            return rising == .falls && logic[feature].function == .max ? .either : rising
        case .function(.daysSince, let args) where args == [.feature(feature)] && logic[feature].isAllTimeLatest:
            return rising.flipped
        default:
            return nil
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

/// Per feature, the tags reading it, each with the values an event that raises the feature's figure
/// (``FeatureLogic/rises(with:inOrder:hadFigure:)``) cannot take it from: a bit per case of the tag's
/// rule — bit `k` for the value of case `k`, bit `cases` for none of them (the `else` value, or no value).
/// A boolean tag is one case: bit 0, the profile has it; bit 1, it does not.
///
/// The value of case `k` is kept when every earlier case's condition falls with the figure (or does not read
/// it) and its own rises (or does not read it); no case's value, when every condition falls.
struct FeatureReaders {
    private var starts: [Int32] = [0]
    private var tags: [Int32] = []
    private var keeps: [UInt64] = []

    init(tagSet: TagSet, logic: [FeatureLogic]) {
        for (feature, readers) in tagSet.tagsByFeature.enumerated() {
            for tag in readers {
                tags.append(Int32(tag))
                keeps.append(Self.valuesKept(by: tagSet.tags[tag].rule, rising: feature, logic: logic))
            }
            starts.append(Int32(tags.count))
        }
    }

    private static func valuesKept(by rule: TagRule, rising feature: Int, logic: [FeatureLogic]) -> UInt64 {
        let conditions: [RuleExpr]
        switch rule {
        case .boolean(let condition): conditions = [condition]
        case .cases(let cases, _): conditions = cases.map(\.condition)
        case .valued: return 0
        }
        guard conditions.count < 63 else { return 0 }
        var kept: UInt64 = 0
        var earlierFall = true
        for (k, condition) in conditions.enumerated() {
            let polarity = TagPolarity.of(condition, in: feature, logic: logic)
            if earlierFall, polarity == nil || polarity == .rises { kept |= 1 << UInt64(k) }
            earlierFall = earlierFall && (polarity == nil || polarity == .falls)
        }
        if earlierFall { kept |= 1 << UInt64(conditions.count) }
        return kept
    }

    /// Calls `body` with each tag reading `feature` and the values of it the feature's rising keeps.
    @inline(__always) func forEach(in feature: Int, _ body: (Int, UInt64) -> Void) {
        var i = Int(starts[feature])
        let end = Int(starts[feature &+ 1])
        while i < end {
            body(Int(tags[i]), keeps[i])
            i &+= 1
        }
    }
}

extension FeatureLogic {
    /// Whether `entry`, folded in, leaves the feature's figure at every later moment at least what it would
    /// have been: a count, a distinct count, whether any matched, a largest figure, a sequence's completion;
    /// a sum when the amount is not negative; sessions only for an event after every other of the profile
    /// (`inOrder`: a late one may join two sessions into one); an all-time latest moment that it had
    /// (`hadFigure`: from none, the days since it go from null to a number).
    func rises(with entry: FeatureEntry?, inOrder: Bool, hadFigure: Bool) -> Bool {
        switch function {
        case .count, .distinct, .exists, .max, .sequence: return true
        case .sessions: return inOrder
        case .sum: return (entry?.value.numberValue).map { $0 >= 0 } ?? true
        case .lastTime: return hadFigure && isAllTimeLatest
        default: return false
        }
    }

    /// The moment of the latest matching event ever (`last_time(…)` over all time).
    var isAllTimeLatest: Bool { function == .lastTime && spec.window == .allTime }
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
