/// What keeps a boolean tag from holding, read from a profile's state without evaluating the rule: a
/// conjunct (a part of the condition that `and` joins to the rest) asking for a whole figure — a count, plain
/// or per group, a distinct count, a number of sessions, whether any event matched — to be at least some bound. While such a figure
/// is below its bound the tag cannot hold, whatever the rest of the rule says; and only an event raises it
/// again (time only lowers these figures, outside `between … ago` windows, which events enter).
///
/// Most profiles are far below most thresholds (`count(any) this week >= 5`, `sessions in last 7 days >= 3`):
/// an event touching such a feature would otherwise evaluate the rule only to find the tag still absent.
struct TagGates {
    /// Per tag, its gates `starts[tag]..<starts[tag + 1]`.
    private var starts: [Int32] = [0]
    private var features: [Int32] = []
    private var bounds: [Double] = []

    init(tags: [TagDefinition], logic: [FeatureLogic]) {
        for tag in tags {
            if case .boolean(let condition) = tag.rule {
                for conjunct in condition.conjuncts {
                    guard let (feature, atLeast) = Self.gate(conjunct), logic[feature].hasFigureCeiling else { continue }
                    features.append(Int32(feature))
                    bounds.append(atLeast)
                }
            }
            starts.append(Int32(features.count))
        }
    }

    /// A conjunct's feature and the least figure that can satisfy it.
    private static func gate(_ conjunct: RuleExpr) -> (Int, Double)? {
        switch conjunct {
        case .compare(let op, .feature(let feature), .literal(.number(let bound)))
        where op == .greaterOrEqual || op == .greater:
            return (feature, Threshold(op, bound).wholeAtLeast)
        case .feature(let feature):
            return (feature, 1)  // `exists(…)`; any other feature's ceiling is nil
        default:
            return nil
        }
    }

    @inline(__always) func hasGates(_ tag: Int) -> Bool { starts[tag] != starts[tag &+ 1] }

    /// Whether some gate of `tag` is shut: `ceiling` (a feature's figure ceiling, nil when unknown) is
    /// below the gate's bound.
    @inline(__always) func isShut(_ tag: Int, ceiling: (Int) -> Double?) -> Bool {
        for i in Int(starts[tag])..<Int(starts[tag &+ 1]) {
            if let figure = ceiling(Int(features[i])), figure < bounds[i] { return true }
        }
        return false
    }
}

extension RuleExpr {
    /// The parts `and` joins (the expression itself when it is no conjunction).
    var conjuncts: [RuleExpr] {
        if case .and(let a, let b) = self { return a.conjuncts + b.conjuncts }
        return [self]
    }
}

extension FeatureLogic {
    /// The feature's figure is whole, only events raise it and only time lowers it: a count (plain or per
    /// group), a distinct count, a number of sessions (a late event may join two: lower, never higher) or
    /// whether any event matched, outside `between … ago` windows.
    var hasFigureCeiling: Bool {
        guard !isRange else { return false }
        switch function {
        case .count, .distinct, .sessions, .exists: return true
        default: return false
        }
    }

    /// A windowed feature's figure as its summary holds it before the window moves: never below its figure
    /// now, nor at any moment before the profile's next event. nil when unknown.
    func figureCeiling(_ s: borrowing WindowSummary) -> Double? {
        guard hasFigureCeiling else { return nil }
        switch function {
        case .count: return keySlot < 0 ? Double(s.count) : s.tallyLargest ?? 0
        case .distinct: return Double(s.tallyCount)
        case .sessions: return s.count == 0 ? 0 : Double(s.breaks + 1)
        default: return nil
        }
    }

    /// The same for a feature kept in the profile's feature slots (nil: it has none).
    func figureCeiling(_ state: borrowing FeatureState?) -> Double? {
        guard hasFigureCeiling else { return nil }
        switch state {
        case nil: return 0  // no event matched it (or those that did have left its window)
        case .running(let count, _, _): return function == .count || function == .exists ? Double(count) : nil
        case .tally(let tally): return function == .distinct ? Double(tally.count) : function == .count ? tally.largest ?? 0 : nil
        case .extreme, .entries: return nil
        }
    }
}
