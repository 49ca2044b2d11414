/// Finds the features an event matches with as little work as possible.
///
/// Per event name a plan lists the candidate features. Those whose filter is one property equal to a text
/// constant (`where project = "玻尿酸"`, the common case) are found with one property lookup and one hash
/// lookup however many there are; every other distinct filter is evaluated once per event, whichever
/// features share it.
final class EventDispatch {
    /// A class: reading one for an event copies no arrays.
    final class Plan {
        /// Features with no filter: the selector alone decides.
        var unfiltered: [Int32] = []
        /// Per property path, the features filtering on `path = "text"`, by that text.
        var indexed: [(path: [String], byText: [String: [Int32]])] = []
        /// Per distinct filter (its root in ``filters``), the features using it.
        var filtered: [(filter: Int32, features: [Int32])] = []
        var filters = ExprCode()
        /// Sequences: each step has its own selector and filter.
        var sequences: [Int32] = []
    }

    private var plans: [String: Plan] = [:]
    /// For names no feature selects: the features of every event.
    private let everyEventPlan: Plan
    let patterns: [RulePattern]

    init(features: [FeatureSpec], patterns: [RulePattern]) {
        self.patterns = patterns
        var byName: [String: [Int]] = [:]
        var everyEvent: [Int] = []
        for (index, feature) in features.enumerated() {
            let selectors = feature.steps.isEmpty ? [feature.selector] : feature.steps.map(\.selector)
            if case .aggregate = feature.kind, !selectors.contains(.any) {
                for case .named(let name) in Set(selectors) { byName[name, default: []].append(index) }
            } else {
                everyEvent.append(index)
            }
        }
        everyEventPlan = Self.plan(everyEvent, features)
        for (name, indices) in byName {
            plans[name] = Self.plan((indices + everyEvent).sorted(), features)
        }
    }

    /// Calls `body` with each feature `event` matches (selector and filter; properties are not checked).
    @inline(__always)
    func forEachMatch(of event: RuleEvent, _ body: (Int) -> Void) {
        let plan = plans[event.name] ?? everyEventPlan
        for index in plan.unfiltered { body(Int(index)) }
        for (path, byText) in plan.indexed {
            if case .string(let text) = event.property(path), let features = byText[text] {
                for index in features { body(Int(index)) }
            }
        }
        if !plan.filtered.isEmpty {
            var context = EventContext(event: event, patterns: patterns)
            for (filter, features) in plan.filtered where plan.filters.test(filter, in: &context) {
                for index in features { body(Int(index)) }
            }
        }
        for index in plan.sequences { body(Int(index)) }
    }

    private static func plan(_ indices: [Int], _ features: [FeatureSpec]) -> Plan {
        let plan = Plan()
        var indexed: [[String]: [String: [Int32]]] = [:]
        var pathOrder: [[String]] = []
        var filtered: [RuleExpr: [Int32]] = [:]
        var filterOrder: [RuleExpr] = []
        for index in indices {
            let feature = features[index]
            let slot = Int32(index)
            if !feature.steps.isEmpty {
                plan.sequences.append(slot)
            } else if let filter = feature.filter {
                if let (path, text) = filter.propertyEqualsText {
                    if indexed[path] == nil { pathOrder.append(path) }
                    indexed[path, default: [:]][text, default: []].append(slot)
                } else {
                    if filtered[filter] == nil { filterOrder.append(filter) }
                    filtered[filter, default: []].append(slot)
                }
            } else {
                plan.unfiltered.append(slot)
            }
        }
        plan.indexed = pathOrder.map { ($0, indexed[$0]!) }
        plan.filtered = filterOrder.map { (plan.filters.add($0), filtered[$0]!) }
        return plan
    }
}

extension RuleExpr {
    /// `path = "text"` (either way round) with text that does not spell a number: true exactly for events
    /// whose property is that very string, so a hash lookup can stand for it.
    var propertyEqualsText: (path: [String], text: String)? {
        switch self {
        case .compare(.equal, .property(let path), .literal(.string(let text))),
             .compare(.equal, .literal(.string(let text)), .property(let path)):
            return RuleValue.string(text).numberValue == nil ? (path, text) : nil
        default:
            return nil
        }
    }
}
