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

/// The one event a feature keeps of a profile: the earliest, or the latest. 24 bytes: its value is packed
/// (text in the engine's ``ValueTable``).
struct KeptEvent: Sendable {
    var timestamp: EpochMillis
    var seq: Int64
    var value: PackedValue

    init(_ entry: FeatureEntry, in table: ValueTable) {
        timestamp = entry.timestamp
        seq = entry.seq
        value = table.pack(entry.value)
    }

    func precedes(_ entry: FeatureEntry) -> Bool { (timestamp, seq) < (entry.timestamp, entry.seq) }
    func follows(_ entry: FeatureEntry) -> Bool { (entry.timestamp, entry.seq) < (timestamp, seq) }
    func precedes(_ other: KeptEvent) -> Bool { (timestamp, seq) < (other.timestamp, other.seq) }
}

/// What a profile keeps for one feature, besides windowed aggregates (which count the profile's shared
/// events, ``ProfileEvents``): sequences and all-time sessions keep their matching events; all-time
/// aggregates keep a running summary; whether any event, or the latest one, is inside a sliding or
/// calendar window needs only the latest event.
enum FeatureState: Sendable {
    /// A sequence's matching steps, or all-time sessions' events, in time order.
    case entries(EntryWindow)
    /// count / sum / avg / min / max / exists over all time: how many events, how many of them carry a
    /// number, and the one figure the function needs of those (the sum, the smallest or the largest).
    /// (Every state is 24 bytes at most, so a feature's slot is 32: a profile has a few.)
    case running(count: Int32, numbers: Int32, figure: Double)
    /// The earliest or latest matching event: first / last / first_time / last_time, traits, identifiers;
    /// and the latest for exists / last / last_time in sliding and calendar windows.
    case extreme(KeptEvent)
    /// Per value: how many events (distinct, top, count per) or the sum (sum per).
    case tally(Tally)

    /// The state of a feature before any event matched it.
    static func initial(for spec: FeatureSpec) -> FeatureState? {
        switch spec.kind {
        case .trait, .identifier: return nil
        case .aggregate(let function):
            if spec.keepsLatestOnly { return nil }
            if function == .sessions || function == .sequence {
                return .entries(EntryWindow(countsSessions: function == .sessions))
            }
            switch function {
            case .count where spec.per != nil, .sum where spec.per != nil, .distinct, .top: return .tally(Tally())
            case .count, .sum, .avg, .min, .max, .exists:
                return .running(count: 0, numbers: 0, figure: 0)
            default: return nil
            }
        }
    }
}

extension FeatureSpec {
    /// Exists / last / last_time in a sliding or calendar window: the latest matching event decides.
    var keepsLatestOnly: Bool {
        guard case .aggregate(let function) = kind, function == .exists || function == .last || function == .lastTime
        else { return false }
        switch window {
        case .sliding, .calendarDays, .thisWeek, .thisMonth: return true
        case .allTime, .range: return false
        }
    }
}

/// How features take in events, answer at a moment, and combine on a merge. One per feature, shared by
/// every profile (a class: the hot paths pass it around without copying the spec).
final class FeatureLogic {
    let spec: FeatureSpec
    /// Its place in the tag set's features.
    let index: Int
    let calendar: WorkspaceCalendar
    let patterns: [RulePattern]
    /// The aggregate computed; nil for traits and identifiers.
    let function: AggregateFunction?
    let isSequence: Bool
    /// sum / avg / min / max: the figures read the numbers of the values (others need not parse them).
    let readsNumbers: Bool
    private let keepsEarliest: Bool
    /// For a windowed feature counting the profile's shared events: its bit and value slots there.
    let layout: WindowLayout
    /// Where the text of the values kept in events and tallies is.
    let table: ValueTable
    let bit: WindowBit?
    let valueSlot: Int
    let keySlot: Int
    /// A sequence's steps' filters, compiled (-1: a step with none).
    private let stepFilters: ExprCode
    private let stepFilterRoots: [Int32]

    /// A window keeps a summary of its own (``WindowSummary``, and a tally for distinct / top / count per)
    /// only while it counts more than this many events, or spans more than twice as many shared events (a
    /// read would go through them all); below, a read counts them from the shared events — most windows
    /// hold a handful, and a summary for each was a fifth of a profile's memory. The summary goes once both
    /// are back to half.
    let summaryFrom: Int
    /// The period ``period(at:)`` computed last (none at first).
    private var lastPeriod = CalendarPeriod(from: .max, until: .min, start: 0)

    init(spec: FeatureSpec, index: Int, layout: WindowLayout, table: ValueTable, calendar: WorkspaceCalendar,
         patterns: [RulePattern], summaryFrom: Int) {
        self.spec = spec
        self.summaryFrom = summaryFrom
        self.index = index
        self.table = table
        self.calendar = calendar
        self.patterns = patterns
        self.layout = layout
        bit = layout.bits[index]
        valueSlot = layout.valueSlots[index]
        keySlot = layout.keySlots[index]
        if case .aggregate(let f) = spec.kind { function = f } else { function = nil }
        isSequence = function == .sequence
        readsNumbers = [.sum, .avg, .min, .max].contains(function)
        keepsEarliest = function == .first || function == .firstTime
        var stepFilters = ExprCode()
        stepFilterRoots = spec.steps.map { step in step.filter.map { stepFilters.add($0) } ?? -1 }
        self.stepFilters = stepFilters
    }

    /// The oldest timestamp the window at `now` can still use; older events are of no use.
    func horizon(at now: EpochMillis) -> EpochMillis {
        switch spec.window {
        case .allTime: .min
        case .sliding(let length): now - length + 1
        case .range(let older, _): now - older + 1
        case .calendarDays, .thisWeek, .thisMonth: period(at: now).start
        }
    }

    /// A calendar window's period at some moment: where the window starts and when it next moves, the same
    /// for every moment from `from` to `until` (exclusive) — one day (`today`, `in last 7 calendar days`),
    /// the week or the month.
    struct CalendarPeriod {
        var from: EpochMillis
        var until: EpochMillis
        var start: EpochMillis
    }

    /// The calendar window's period at `moment` (see ``CalendarPeriod``): most moments a pass asks about fall
    /// in the period it asked about last, which is kept.
    func period(at moment: EpochMillis) -> CalendarPeriod {
        if moment >= lastPeriod.from, moment < lastPeriod.until { return lastPeriod }
        let start = calendar.start(of: spec.window, at: moment)
        let from = if case .calendarDays = spec.window { calendar.startOfDay(moment) } else { start }
        lastPeriod = CalendarPeriod(from: from, until: calendar.nextBoundary(of: spec.window, after: moment), start: start)
        return lastPeriod
    }

    /// What an event whose name and filter the feature selects adds to it (not for sequences): nil when the
    /// event lacks the property read or falls before the window. Needs no state, so a profile's state is
    /// only touched for features the event really changes.
    @inline(__always)
    func contribution(of event: RuleEvent, now: EpochMillis) -> FeatureEntry? {
        guard spec.window == .allTime || event.timestamp >= horizon(at: now) else { return nil }
        func entry(_ value: RuleValue, _ key: RuleValue = .null) -> FeatureEntry {
            FeatureEntry(timestamp: event.timestamp, seq: event.seq, value: value, key: key)
        }
        switch spec.kind {
        case .trait(let path):
            guard let value = RuleEvent.lookup(path, in: event.traits), !value.isNull else { return nil }
            return entry(value)
        case .identifier(let type):
            guard let id = event.identifiers.last(where: { $0.type == type }) else { return nil }
            return entry(.string(id.value))
        case .aggregate:
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
            return entry(value, key)
        }
    }

    /// Whether an event can be a step of the sequence: inside the window, and named as some step is (its
    /// filters are not checked yet).
    func mayBeStep(_ event: RuleEvent, now: EpochMillis) -> Bool {
        event.timestamp >= horizon(at: now) && spec.steps.contains { $0.selector.matches(event.name) }
    }

    /// Calls `body` with an entry for each step of the sequence the event matches (no array is made: this
    /// runs for every event a sequence names).
    func forEachStep(matching event: RuleEvent, _ body: (FeatureEntry) -> Void) {
        for (index, step) in spec.steps.enumerated() where step.selector.matches(event.name) && passes(step: index, event) {
            body(FeatureEntry(timestamp: event.timestamp, seq: event.seq, value: .null, key: .number(Double(index))))
        }
    }

    /// Folds the steps `event` matches into a sequence's state; true when that can change whether the
    /// sequence completes. Only a step added after every kept one can be left out: the runs it could be part
    /// of all end at a later step, and none is kept — unless it is the last step, or the window is a range
    /// (its entries enter later). Such a fold changes nothing a rule reads, and the tags reading the feature
    /// need no evaluation: the entries that left the window at `now` are dropped here instead, as a read
    /// would (a profile viewing every day and never buying keeps a window's worth of steps, no more).
    func foldSteps(of event: RuleEvent, into state: inout FeatureState?, now: EpochMillis) -> Bool {
        var folded = false
        var mayComplete = isRange
        let last = Int64(spec.steps.count - 1)
        forEachStep(matching: event) { entry in
            folded = fold(entry, into: &state) || folded
            if entry.key.numberValue == Double(last) { mayComplete = true }
        }
        guard folded, !mayComplete, case .entries(var window)? = state else { return folded }
        let end = window.count - 1
        guard window.time(end) == event.timestamp, window.seq(end) == event.seq else { return true }  // a late event
        state = nil  // `window` holds the only reference to its rows: changed in place
        window.drop(before: horizon(at: now))
        state = .entries(window)
        return false
    }

    private func passes(step: Int, _ event: RuleEvent) -> Bool {
        let root = stepFilterRoots[step]
        guard root >= 0 else { return true }
        var context = EventContext(event: event, patterns: patterns)
        return stepFilters.test(root, in: &context)
    }

    /// Folds one entry into the state; false when nothing changed.
    func fold(_ entry: FeatureEntry, into state: inout FeatureState?) -> Bool {
        if state == nil { state = FeatureState.initial(for: spec) }
        guard let current = state else {
            state = .extreme(KeptEvent(entry, in: table))
            return true
        }
        switch consume current {
        case .entries(var window):
            state = nil  // `window` holds the only reference to its rows: changed in place
            window.insert(entry)
            state = .entries(window)
            return true
        case .running(let count, let numbers, let figure):
            if readsNumbers, let n = entry.value.numberValue {
                state = .running(count: count + 1, numbers: numbers + 1, figure: numbers == 0 ? n : combined(figure, n))
            } else {
                state = .running(count: count + 1, numbers: numbers, figure: figure)
            }
            return true
        case .extreme(let kept):
            let takeNew = keepsEarliest ? kept.follows(entry) : kept.precedes(entry)
            if takeNew { state = .extreme(KeptEvent(entry, in: table)) }
            return takeNew
        case .tally(var tally):
            state = nil
            switch (function, spec.per) {
            case (.sum, .some): tally.add(entry.value.numberValue ?? 0, to: table.pack(entry.key))
            case (_, .some): tally.add(1, to: table.pack(entry.key))
            default: tally.add(1, to: table.pack(entry.value))
            }
            state = .tally(tally)
            return true
        }
    }

    /// Two running figures as one: the sum, the smaller or the larger.
    private func combined(_ a: Double, _ b: Double) -> Double {
        switch function {
        case .min: Swift.min(a, b)
        case .max: Swift.max(a, b)
        default: a + b
        }
    }

    /// Combines two profiles' states when their profiles merge.
    func merged(_ a: FeatureState?, _ b: FeatureState?) -> FeatureState? {
        guard let a else { return b }
        guard let b else { return a }
        switch (a, b) {
        case (.entries(let x), .entries(let y)):
            return .entries(EntryWindow.merged(x, y))
        case (.running(let c1, let n1, let f1), .running(let c2, let n2, let f2)):
            let figure = n1 == 0 ? f2 : n2 == 0 ? f1 : combined(f1, f2)
            return .running(count: c1 + c2, numbers: n1 + n2, figure: figure)
        case (.extreme(let x), .extreme(let y)):
            return (keepsEarliest ? x.precedes(y) : y.precedes(x)) ? .extreme(x) : .extreme(y)
        case (.tally(let x), .tally(let y)):
            return .tally(x.merging(y))
        default:
            return a
        }
    }

    // MARK: - Values

    /// The feature's value at `now`, pruning what the window has left behind; lowers `until` to the first
    /// moment the value could change with time alone.
    func value(_ state: inout FeatureState?, at now: EpochMillis, until: inout EpochMillis) -> RuleValue {
        guard case .aggregate(let function) = spec.kind else {
            if case .extreme(let entry) = state { return table.value(entry.value) }
            return .null
        }
        switch state {
        case nil: return emptyValue(function)
        case .running(let count, let numbers, let figure):
            switch function {
            case .count: return .number(Double(count))
            case .exists: return .bool(count > 0)
            case .sum: return .number(numbers == 0 ? 0 : figure)
            case .avg: return numbers == 0 ? .null : .number(figure / Double(numbers))
            case .min, .max: return numbers == 0 ? .null : .number(figure)
            default: return .null
            }
        case .extreme(let entry):
            if spec.window != .allTime {
                guard entry.timestamp >= horizon(at: now) else {
                    state = nil  // left the window: nothing to keep
                    return emptyValue(function)
                }
                if case .sliding(let length) = spec.window {
                    until = min(until, entry.timestamp + length)
                } else {
                    until = min(until, period(at: now).until)
                }
            }
            switch function {
            case .firstTime, .lastTime: return .time(entry.timestamp)
            case .exists: return .bool(true)
            default: return table.value(entry.value)
            }
        case .tally(let tally):
            return tallyValue(function, tally)
        case .entries(var window):
            state = nil  // as in `fold`
            var moves = EpochMillis.max
            slide(&window, to: now, until: &moves)
            state = .entries(window)
            let value = aggregate(function, window)
            // A sequence not completed inside a window that time only empties cannot complete without an
            // event: no need to wake as its steps leave.
            if function != .sequence || value.isTrue || isRange { until = min(until, moves) }
            return value
        }
    }

    func emptyValue(_ function: AggregateFunction) -> RuleValue {
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
            window.enter { $0 <= newest }
            // In the window once `newer` has passed since the event, out once `older` has.
            if !window.window.isEmpty { until = min(until, window.time(window.head) + older) }
            if let next = window.nextToEnter { until = min(until, window.time(next) + newer) }
        case .sliding(let length):
            window.enterAll()
            // The oldest leaving changes the value (whether any is left, and the latest one, are kept
            // by `.extreme` instead).
            if !window.isEmpty { until = min(until, window.time(window.head) + length) }
        case .calendarDays, .thisWeek, .thisMonth:
            window.enterAll()
            if !window.isEmpty { until = min(until, period(at: now).until) }
        case .allTime:
            window.enterAll()
        }
    }

    private func aggregate(_ function: AggregateFunction, _ window: EntryWindow) -> RuleValue {
        let entries = window.window
        if entries.isEmpty { return emptyValue(function) }
        switch function {
        case .sessions: return .number(Double(window.breaks + 1))
        case .sequence:
            return .bool(window.sequenceCompletes(stepCount: spec.steps.count, within: spec.within))
        default: return emptyValue(function)  // other aggregates keep no entries
        }
    }

    func tallyValue(_ function: AggregateFunction, _ tally: Tally) -> RuleValue {
        switch function {
        case .distinct: return .number(Double(tally.count))
        case .top:
            guard let most = tally.largest else { return .null }
            return mostFrequent(most) { tally.forEachEntry($0) }
        default:
            return .number(tally.largest ?? 0)
        }
    }

    /// The most frequent value, given the largest figure and each value with its figure: of the values with
    /// that figure (only those are unpacked and compared), the first in the values' order.
    func mostFrequent(_ most: Double, _ forEachEntry: ((PackedValue, Double) -> Void) -> Void) -> RuleValue {
        var best: RuleValue?
        forEachEntry { packed, figure in
            guard figure == most else { return }
            let value = table.value(packed)
            if let b = best, !RuleValue.tieBreakPrecedes(value, b) { return }
            best = value
        }
        return best ?? .null
    }

    /// A session ends after 30 minutes without an event.
    static let sessionGap: Int64 = 30 * 60 * 1000
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
