@testable import TagflowCore

/// Computes a tag set by brute force over all of a profile's events at a moment: the definition of what
/// the engine must produce, written as plainly as possible and sharing nothing with the engine's windows,
/// pruning, timers or merges.
struct ReferenceEvaluator {
    let tagSet: TagSet
    let calendar: WorkspaceCalendar

    /// The tags a profile with these events has at `time` (tag id → value).
    func tags(events: [RuleEvent], at time: EpochMillis) -> [String: RuleValue] {
        let sorted = events.sorted { ($0.timestamp, $0.seq) < ($1.timestamp, $1.seq) }
        var values: [Int: RuleValue] = [:]
        for (index, tag) in tagSet.tags.enumerated() {
            var context = Context(reference: self, events: sorted, time: time, tagValues: values)
            if let value = tag.rule.referenceValue(in: &context) { values[index] = value }
        }
        return Dictionary(uniqueKeysWithValues: values.map { (tagSet.tags[$0.key].id, $0.value) })
    }

    struct Context: RuleContext {
        let reference: ReferenceEvaluator
        let events: [RuleEvent]
        let time: EpochMillis
        let tagValues: [Int: RuleValue]
        var until: EpochMillis = .max
        var patterns: [RulePattern] { reference.tagSet.patterns }

        func property(_ path: [String]) -> RuleValue { .null }
        func tag(_ index: Int) -> RuleValue {
            if case .boolean = reference.tagSet.tags[index].rule { return .bool(tagValues[index] != nil) }
            return tagValues[index] ?? .null
        }
        mutating func feature(_ index: Int) -> RuleValue {
            reference.feature(reference.tagSet.features[index], events: events, at: time)
        }
    }

    func inWindow(_ window: TimeWindow, _ ts: EpochMillis, at t: EpochMillis) -> Bool {
        switch window {
        case .allTime: true
        case .sliding(let d): ts > t - d
        case .range(let older, let newer): ts > t - older && ts <= t - newer
        case .calendarDays, .thisWeek, .thisMonth: ts >= calendar.start(of: window, at: t)
        }
    }

    func passes(_ filter: RuleExpr?, _ event: RuleEvent) -> Bool {
        guard let filter else { return true }
        var context = EventContext(event: event, patterns: tagSet.patterns)
        return filter.referenceValue(in: &context).isTrue
    }

    /// The value at `path` inside `object`, read through the object's own subscripts (not the engine's lookup).
    static func value(at path: [String], in object: JSONObject) -> RuleValue? {
        var value: JSONValue? = .object(object)
        for key in path {
            guard case .object(let inner)? = value else { return nil }
            value = inner[key]
        }
        return value.map(RuleValue.init)
    }

    func feature(_ spec: FeatureSpec, events: [RuleEvent], at t: EpochMillis) -> RuleValue {
        switch spec.kind {
        case .trait(let path):
            let carrying = events.filter { Self.value(at: path, in: $0.traits).map { !$0.isNull } ?? false }
            return carrying.last.flatMap { Self.value(at: path, in: $0.traits) } ?? .null
        case .identifier(let type):
            let carrying = events.filter { $0.identifiers.contains { $0.type == type } }
            return carrying.last.flatMap { e in e.identifiers.last { $0.type == type } }.map { .string($0.value) } ?? .null
        case .aggregate(let function):
            let windowed = events.filter { inWindow(spec.window, $0.timestamp, at: t) }
            if function == .sequence { return .bool(sequence(spec, windowed)) }
            if function == .sessions { return .number(Double(sessions(windowed.map(\.timestamp)))) }
            let matching = windowed.filter { spec.selector.matches($0.name) && passes(spec.filter, $0) }
                .filter { spec.property.isEmpty || !$0.property(spec.property).isNull }
                .filter { event in spec.per.map { !event.property($0).isNull } ?? true }
            let values = matching.map { spec.property.isEmpty ? RuleValue.null : $0.property(spec.property) }
            let numbers: [Double] = values.compactMap { $0.numberValue }
            switch function {
            case .count, .sum:
                if let per = spec.per {
                    var groups: [RuleValue: Double] = [:]
                    for (e, v) in zip(matching, values) {
                        groups[e.property(per), default: 0] += function == .count ? 1 : (v.numberValue ?? 0)
                    }
                    return .number(groups.values.max() ?? 0)
                }
                return .number(function == .count ? Double(matching.count) : numbers.reduce(0, +))
            case .avg: return numbers.isEmpty ? .null : .number(numbers.reduce(0, +) / Double(numbers.count))
            case .min: return numbers.min().map { RuleValue.number($0) } ?? .null
            case .max: return numbers.max().map { RuleValue.number($0) } ?? .null
            case .distinct: return .number(Double(Set(values).count))
            case .top:
                var counts: [RuleValue: Int] = [:]
                for v in values { counts[v, default: 0] += 1 }
                guard let most = counts.values.max() else { return .null }
                return counts.filter { $0.value == most }.keys.sorted(by: RuleValue.tieBreakPrecedes).first ?? .null
            case .first: return values.first ?? .null
            case .last: return values.last ?? .null
            case .firstTime: return matching.first.map { RuleValue.time($0.timestamp) } ?? .null
            case .lastTime: return matching.last.map { RuleValue.time($0.timestamp) } ?? .null
            case .exists: return .bool(!matching.isEmpty)
            case .sessions, .sequence: return .null
            }
        }
    }

    func sessions(_ times: [EpochMillis]) -> Int {
        let sorted = times.sorted()
        return sorted.indices.filter { $0 == 0 || sorted[$0] - sorted[$0 - 1] > 30 * 60 * 1000 }.count
    }

    /// Tries every way of choosing one event per step, in order.
    func sequence(_ spec: FeatureSpec, _ events: [RuleEvent]) -> Bool {
        func search(step: Int, after: Int, start: EpochMillis?) -> Bool {
            if step == spec.steps.count { return true }
            for i in (after + 1)..<max(after + 1, events.count) {
                let e = events[i]
                guard spec.steps[step].selector.matches(e.name), passes(spec.steps[step].filter, e) else { continue }
                let first = start ?? e.timestamp
                if let within = spec.within, e.timestamp - first > within { continue }
                if search(step: step + 1, after: i, start: first) { return true }
            }
            return false
        }
        return search(step: 0, after: -1, start: nil)
    }
}
