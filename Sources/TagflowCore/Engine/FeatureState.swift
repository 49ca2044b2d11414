/// One matching event as a windowed feature remembers it.
struct FeatureEntry: Sendable, Equatable {
    var timestamp: EpochMillis
    var seq: Int64
    /// The aggregated property's value (null for `count`, `sessions`, `sequence`).
    var value: RuleValue
    /// The `per` group's value, or the step index of a sequence.
    var key: RuleValue

    @inline(__always) func precedes(_ other: FeatureEntry) -> Bool {
        (timestamp, seq) < (other.timestamp, other.seq)
    }
}

/// What a profile keeps for one feature. Windowed aggregates (and all-time sessions and sequences) keep
/// their matching events, pruned as the window slides; all-time aggregates keep a running summary.
enum FeatureState: Sendable, Equatable {
    /// The matching events still inside (or yet to enter) the window, in time order, summarised.
    case entries(EntryWindow)
    /// count / sum / avg / min / max / exists over all time.
    case running(count: Int, numbers: Int, sum: Double, min: Double, max: Double)
    /// The earliest or latest matching event: first / last / first_time / last_time, traits, identifiers.
    case extreme(FeatureEntry)
    /// Per value: how many events (distinct, top, count per) or the sum (sum per).
    case tally([RuleValue: Double])

    /// The state of a feature before any event matched it.
    static func initial(for spec: FeatureSpec) -> FeatureState? {
        switch spec.kind {
        case .trait, .identifier: return nil
        case .aggregate(let function):
            if spec.window != .allTime || function == .sessions || function == .sequence {
                let summary: EntryWindow.Summary = switch function {
                case .sessions: .sessions
                case .distinct, .top: .byValue
                case .count where spec.per != nil, .sum where spec.per != nil: .byKey(sums: function == .sum)
                default: .plain
                }
                return .entries(EntryWindow(summary: summary))
            }
            switch function {
            case .count where spec.per != nil, .sum where spec.per != nil, .distinct, .top: return .tally([:])
            case .count, .sum, .avg, .min, .max, .exists:
                return .running(count: 0, numbers: 0, sum: 0, min: .infinity, max: -.infinity)
            default: return nil
            }
        }
    }
}

/// How features take in events, answer at a moment, and combine on a merge.
struct FeatureLogic {
    let spec: FeatureSpec
    let calendar: WorkspaceCalendar
    let patterns: [RulePattern]

    /// The oldest timestamp the window at `now` can still use; older events are of no use.
    private func horizon(at now: EpochMillis) -> EpochMillis {
        switch spec.window {
        case .allTime: .min
        case .sliding(let length): now - length + 1
        case .range(let older, _): now - older + 1
        case .calendarDays, .thisWeek, .thisMonth: calendar.start(of: spec.window, at: now)
        }
    }

    /// What an event adds to this feature: nil when it does not match or falls before the window. Needs no
    /// state, so a profile's state is only touched for features the event really changes.
    func contribution(of event: RuleEvent, now: EpochMillis) -> [FeatureEntry]? {
        guard let entries = matches(event), event.timestamp >= horizon(at: now) else { return nil }
        return entries
    }

    /// Folds an event's entries into the state; false when nothing changed.
    func fold(_ entries: [FeatureEntry], into state: inout FeatureState?) -> Bool {
        var changed = false
        for entry in entries {
            changed = fold(entry, into: &state) || changed
        }
        return changed
    }

    /// The entries an event contributes, or nil when it does not match.
    private func matches(_ event: RuleEvent) -> [FeatureEntry]? {
        func entry(_ value: RuleValue, _ key: RuleValue = .null) -> FeatureEntry {
            FeatureEntry(timestamp: event.timestamp, seq: event.seq, value: value, key: key)
        }
        switch spec.kind {
        case .trait(let path):
            guard let value = RuleEvent.lookup(path, in: event.traits).map(RuleValue.init), !value.isNull else { return nil }
            return [entry(value)]
        case .identifier(let type):
            guard let id = event.identifiers.last(where: { $0.type == type }) else { return nil }
            return [entry(.string(id.value))]
        case .aggregate(let function):
            if function == .sequence {
                var entries: [FeatureEntry] = []
                for (index, step) in spec.steps.enumerated()
                where step.selector.matches(event.name) && passes(step.filter, event) {
                    entries.append(entry(.null, .number(Double(index))))
                }
                return entries.isEmpty ? nil : entries
            }
            guard spec.selector.matches(event.name), passes(spec.filter, event) else { return nil }
            var value = RuleValue.null
            if !spec.property.isEmpty {
                value = event.property(spec.property)
                if value.isNull { return nil }
            }
            var key = RuleValue.null
            if let per = spec.per {
                key = event.property(per)
                if key.isNull { return nil }
            }
            return [entry(value, key)]
        }
    }

    private func passes(_ filter: RuleExpr?, _ event: RuleEvent) -> Bool {
        guard let filter else { return true }
        var context = EventContext(event: event, patterns: patterns)
        return filter.evaluate(in: &context).isTrue
    }

    private func fold(_ entry: FeatureEntry, into state: inout FeatureState?) -> Bool {
        if state == nil { state = FeatureState.initial(for: spec) }
        guard let current = state else {
            state = .extreme(entry)
            return true
        }
        switch consume current {
        case .entries(var window):
            state = nil  // keep the storage uniquely referenced while it grows
            window.insert(entry)
            state = .entries(window)
            return true
        case .running(let count, let numbers, let sum, let low, let high):
            if let n = entry.value.numberValue {
                state = .running(count: count + 1, numbers: numbers + 1, sum: sum + n, min: Swift.min(low, n), max: Swift.max(high, n))
            } else {
                state = .running(count: count + 1, numbers: numbers, sum: sum, min: low, max: high)
            }
            return true
        case .extreme(let kept):
            let takeNew = keepsEarliest ? entry.precedes(kept) : kept.precedes(entry)
            if takeNew { state = .extreme(entry) }
            return takeNew
        case .tally(var tally):
            state = nil
            switch (spec.kind, spec.per) {
            case (.aggregate(.sum), .some): tally[entry.key, default: 0] += entry.value.numberValue ?? 0
            case (_, .some): tally[entry.key, default: 0] += 1
            default: tally[entry.value, default: 0] += 1
            }
            state = .tally(tally)
            return true
        }
    }

    private var keepsEarliest: Bool {
        if case .aggregate(let f) = spec.kind { return f == .first || f == .firstTime }
        return false
    }

    /// Combines two profiles' states when their profiles merge.
    func merged(_ a: FeatureState?, _ b: FeatureState?) -> FeatureState? {
        guard let a else { return b }
        guard let b else { return a }
        switch (a, b) {
        case (.entries(let x), .entries(let y)):
            return .entries(EntryWindow.merged(x, y))
        case (.running(let c1, let n1, let s1, let lo1, let hi1), .running(let c2, let n2, let s2, let lo2, let hi2)):
            return .running(count: c1 + c2, numbers: n1 + n2, sum: s1 + s2, min: Swift.min(lo1, lo2), max: Swift.max(hi1, hi2))
        case (.extreme(let x), .extreme(let y)):
            return (keepsEarliest ? x.precedes(y) : y.precedes(x)) ? .extreme(x) : .extreme(y)
        case (.tally(let x), .tally(let y)):
            return .tally(x.merging(y, uniquingKeysWith: +))
        default:
            return a
        }
    }

    // MARK: - Values

    /// The feature's value at `now`, pruning what the window has left behind; lowers `until` to the first
    /// moment the value could change with time alone.
    func value(_ state: inout FeatureState?, at now: EpochMillis, until: inout EpochMillis) -> RuleValue {
        guard case .aggregate(let function) = spec.kind else {
            if case .extreme(let entry) = state { return entry.value }
            return .null
        }
        switch state {
        case nil: return emptyValue(function)
        case .running(let count, let numbers, let sum, let low, let high):
            switch function {
            case .count: return .number(Double(count))
            case .exists: return .bool(count > 0)
            case .sum: return .number(sum)
            case .avg: return numbers == 0 ? .null : .number(sum / Double(numbers))
            case .min: return numbers == 0 ? .null : .number(low)
            case .max: return numbers == 0 ? .null : .number(high)
            default: return .null
            }
        case .extreme(let entry):
            return function == .firstTime || function == .lastTime ? .time(entry.timestamp) : entry.value
        case .tally(let tally):
            return tallyValue(function, tally)
        case .entries(var window):
            state = nil
            defer { state = .entries(window) }
            slide(&window, to: now, until: &until)
            return aggregate(function, window)
        }
    }

    private func emptyValue(_ function: AggregateFunction) -> RuleValue {
        switch function {
        case .count, .sum, .distinct, .sessions: .number(0)
        case .exists, .sequence: .bool(false)
        default: .null
        }
    }

    /// Moves the window to `now`: entries it has passed leave, entries it has reached enter; lowers `until`
    /// to the first moment it moves again in a way that can change the value.
    private func slide(_ window: inout EntryWindow, to now: EpochMillis, until: inout EpochMillis) {
        window.drop(before: horizon(at: now))
        switch spec.window {
        case .range(let older, let newer):
            let newest = now - newer
            window.enter { $0.timestamp <= newest }
            // In the window once `newer` has passed since the event, out once `older` has.
            if let first = window.window.first { until = min(until, first.timestamp + older) }
            if let next = window.nextToEnter { until = min(until, next.timestamp + newer) }
        case .sliding(let length):
            window.enter { _ in true }
            guard let first = window.first, case .aggregate(let function) = spec.kind else { return }
            // Whether any is left, and the latest one, change only when the latest leaves.
            let leaving = function == .exists || function == .last || function == .lastTime ? window.window.last ?? first : first
            until = min(until, leaving.timestamp + length)
        case .calendarDays, .thisWeek, .thisMonth:
            window.enter { _ in true }
            if !window.isEmpty { until = min(until, calendar.nextBoundary(of: spec.window, after: now)) }
        case .allTime:
            window.enter { _ in true }
        }
    }

    /// For a plain count in a sliding or calendar window (which time can only lower), the moment the count
    /// falls below `threshold`: `.max` if it is below already; nil for other features. The window must
    /// have been slid to `now` (``value(_:at:until:)`` does).
    func momentBelow(_ threshold: Double, in window: EntryWindow?, at now: EpochMillis) -> EpochMillis? {
        guard case .aggregate(.count) = spec.kind, spec.per == nil else { return nil }
        if case .range = spec.window { return nil }  // events enter range windows too
        if spec.window == .allTime { return .max }
        let count = window?.window.count ?? 0
        guard count >= Int(max(threshold, 0)), threshold > 0 else { return .max }
        guard let window else { return .max }
        switch spec.window {
        case .sliding(let length):
            // After the oldest (count - threshold + 1) events leave, threshold - 1 remain.
            return window.window[window.head + count - Int(threshold)].timestamp + length
        case .calendarDays, .thisWeek, .thisMonth:
            return calendar.nextBoundary(of: spec.window, after: now)
        default:
            return nil
        }
    }

    private func aggregate(_ function: AggregateFunction, _ window: EntryWindow) -> RuleValue {
        let entries = window.window
        if entries.isEmpty { return emptyValue(function) }
        switch function {
        case .count:
            return .number(spec.per != nil ? window.tally.values.max() ?? 0 : Double(entries.count))
        case .sum:
            return .number(spec.per != nil ? window.tally.values.max() ?? 0 : window.numbers == 0 ? 0 : window.sum)
        case .avg:
            return window.numbers == 0 ? .null : .number(window.sum / Double(window.numbers))
        case .min, .max:
            let numbers = entries.lazy.compactMap { $0.value.numberValue }
            guard let extreme = function == .min ? numbers.min() : numbers.max() else { return .null }
            return .number(extreme)
        case .distinct, .top:
            return tallyValue(function, window.tally)
        case .first: return entries.first?.value ?? .null
        case .last: return entries.last?.value ?? .null
        case .firstTime: return entries.first.map { .time($0.timestamp) } ?? .null
        case .lastTime: return entries.last.map { .time($0.timestamp) } ?? .null
        case .exists: return .bool(true)
        case .sessions: return .number(Double(window.breaks + 1))
        case .sequence: return .bool(Self.sequenceCompletes(entries, steps: spec.steps.count, within: spec.within))
        }
    }

    private func tallyValue(_ function: AggregateFunction, _ tally: [RuleValue: Double]) -> RuleValue {
        switch function {
        case .distinct: return .number(Double(tally.count))
        case .top:
            var best: (RuleValue, Double)?
            for (value, count) in tally {
                if let b = best, count < b.1 || (count == b.1 && !RuleValue.tieBreakPrecedes(value, b.0)) { continue }
                best = (value, count)
            }
            return best?.0 ?? .null
        default:
            return .number(tally.values.max() ?? 0)
        }
    }

    /// A session ends after 30 minutes without an event.
    static let sessionGap: Int64 = 30 * 60 * 1000

    /// True when some events match the steps in order (each strictly after the previous in the log's time
    /// order) with the whole run inside `within`.
    static func sequenceCompletes(_ entries: ArraySlice<FeatureEntry>, steps: Int, within: Int64?) -> Bool {
        let list = Array(entries)
        for (i, start) in list.enumerated() where start.key == .number(0) {
            var step = 1
            var last = start
            var j = i + 1
            while step < steps, j < list.count {
                if list[j].key == .number(Double(step)), last.precedes(list[j]) {
                    last = list[j]
                    step += 1
                }
                j += 1
            }
            if step == steps, within.map({ last.timestamp - start.timestamp <= $0 }) ?? true { return true }
            if step < steps { return false }  // later starts cannot complete either
        }
        return false
    }
}

/// The context of a `where` filter: one event.
struct EventContext: RuleContext {
    let event: RuleEvent
    let patterns: [RulePattern]
    var time: EpochMillis { event.timestamp }
    var until: EpochMillis = .max

    init(event: RuleEvent, patterns: [RulePattern]) {
        self.event = event
        self.patterns = patterns
    }

    func property(_ path: [String]) -> RuleValue { event.property(path) }
    func feature(_ index: Int) -> RuleValue { .null }
    func tag(_ index: Int) -> RuleValue { .null }
}
