/// What keeps a boolean tag from holding, read from a profile's features and tags without evaluating the
/// rule: a conjunct (a part of the condition that `and` joins to the rest) that cannot hold now, whatever
/// the rest says — a figure asked to reach a bound (`count(…) in last 7 days >= 5`, `sessions … >= 3`,
/// `sum(…) > 300000`, `exists(…)`) that is below it, or another tag (`tag.gold`, `tag.tier = "gold"`) the
/// profile does not have. Such a figure is one that time only lowers (outside `between … ago` windows,
/// which events enter): only an event raises it again, and that event evaluates the tag's rule anew.
///
/// Most profiles are far below most thresholds: an event touching such a feature would otherwise evaluate
/// the rule only to find the tag still absent.
struct TagGates {
    enum Gate {
        /// The feature's figure must hold the threshold. `countsEvents`: the figure is never above the
        /// number of events its window counts (a count, plain or per group, a distinct count, sessions,
        /// whether any event matched).
        case figure(feature: Int, Threshold, countsEvents: Bool)
        /// The profile must have the tag.
        case tag(Int)
    }

    /// Per tag, its gates `starts[tag]..<starts[tag + 1]`.
    private var starts: [Int32] = [0]
    private var gates: [Gate] = []

    init(tags: [TagDefinition], logic: [FeatureLogic]) {
        for tag in tags {
            if case .boolean(let condition) = tag.rule {
                gates += condition.conjuncts.compactMap { Self.gate($0, logic: logic) }
            }
            starts.append(Int32(gates.count))
        }
    }

    private static func gate(_ conjunct: RuleExpr, logic: [FeatureLogic]) -> Gate? {
        switch conjunct {
        case .compare(let op, .feature(let feature), .literal(.number(let bound)))
        where (op == .greaterOrEqual || op == .greater) && logic[feature].figureHasGates:
            return .figure(feature: feature, Threshold(op, bound), countsEvents: logic[feature].figureCountsEvents)
        case .feature(let feature) where logic[feature].function == .exists && logic[feature].figureHasGates:
            // Its figure: how many events.
            return .figure(feature: feature, Threshold(.greaterOrEqual, 1), countsEvents: logic[feature].figureCountsEvents)
        case .tag(let tag):
            return .tag(tag)  // an absent tag reads as null, or false for a boolean tag: neither holds
        case .compare(.equal, .tag(let tag), .literal(let value))
        where !RuleExpr.equal(.null, value) && !RuleExpr.equal(.bool(false), value):
            return .tag(tag)  // what an absent tag reads as (`tag.x is null`, `tag.b = false` hold then)
        default:
            return nil
        }
    }

    @inline(__always) func hasGates(_ tag: Int) -> Bool { starts[tag] != starts[tag &+ 1] }

    /// Whether some gate of `tag` is shut: a feature's `figure` (nil when unknown) below its threshold, or a
    /// tag the profile does not have. `events`: at least as many as any window of the profile counts (its
    /// shared events): a figure that counts events cannot reach a threshold above it, and is not read.
    @inline(__always) func isShut(_ tag: Int, events: Int, figure: (Int) -> Double?, has: (Int) -> Bool) -> Bool {
        for i in Int(starts[tag])..<Int(starts[tag &+ 1]) {
            switch gates[i] {
            case .figure(let feature, let threshold, let countsEvents):
                if countsEvents, !threshold.holds(Double(events)) { return true }
                if let figure = figure(feature), !threshold.holds(figure) { return true }
            case .tag(let other):
                if !has(other) { return true }
            }
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
    /// Time alone can only lower the feature's figure: a count (plain or per group), a distinct count, a
    /// number of sessions (a late event may join two: lower, never higher), whether any event matched, a
    /// maximum, a sum of amounts none of which is negative — outside `between … ago` windows, which events
    /// enter. (Whether a sum's amounts are is the profile's: ``timeOnlyLowers(_:)``.) Not `exists` in a
    /// sliding or calendar window, which keeps the latest event only: whether it is still inside is what
    /// reading the feature tells, a gate would read it twice.
    var figureHasGates: Bool {
        guard !isRange, !spec.keepsLatestOnly else { return false }
        switch function {
        case .count, .distinct, .sessions, .exists, .max: return true
        case .sum: return spec.per == nil
        default: return false
        }
    }

    /// A windowed figure never above the number of events its window counts (the profile's shared events).
    var figureCountsEvents: Bool {
        guard figureHasGates, bit != nil else { return false }
        switch function {
        case .count, .distinct, .sessions, .exists: return true
        default: return false
        }
    }

    /// Whether, for this profile's window (moved to now), time alone can only lower the figure of a feature
    /// that ``figureHasGates``: a refund leaving a window raises its sum.
    func timeOnlyLowers(_ s: borrowing WindowSummary) -> Bool {
        function != .sum || s.negatives == 0
    }

    /// The figure of a feature kept in the profile's feature slots (nil: it has none), when time alone can
    /// only lower it (-∞: null, which holds no threshold); nil when unknown.
    func figureTimeOnlyLowers(_ state: borrowing FeatureState?) -> Double? {
        guard figureHasGates else { return nil }
        switch state {
        case nil:
            // No event matched it (or those that did have left its window).
            return function == .max ? -.infinity : 0
        case .running(let count, let numbers, let figure):
            switch function {
            case .count, .exists: return Double(count)
            case .sum: return numbers == 0 ? 0 : figure  // all time: only events change it
            case .max: return numbers == 0 ? -.infinity : figure
            default: return nil
            }
        case .tally(let tally): return function == .distinct ? Double(tally.count) : function == .count ? tally.largest ?? 0 : nil
        case .extreme, .entries: return nil  // not known without reading the feature (all-time sessions)
        }
    }
}
