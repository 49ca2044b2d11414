/// Windowed features over a profile's shared events (``ProfileEvents``): the summary follows the window
/// as events arrive and as time moves it.
///
/// Invariants, for a feature's summary `s` over events `e`: the events it counted before `s.exit` have
/// left the window and are out of the figures; for range windows the events from `s.enter` on have not
/// entered it yet; every counted event in between is in the figures.
extension FeatureLogic {
    var isRange: Bool {
        if case .range = spec.window { return true }
        return false
    }

    /// The end of the events inside the window (exclusive).
    @inline(__always) private func end(_ s: WindowSummary, _ events: borrowing ProfileEvents) -> Int {
        isRange ? Int(s.enter) : events.count
    }

    /// Takes in a counted event put at `position` (after ``shift``): in the figures at once, unless a range
    /// window has yet to reach it.
    func added(_ s: inout WindowSummary, at position: Int, events: borrowing ProfileEvents) {
        if isRange, position >= Int(s.enter) { return }
        add(&s, position, events)
    }

    /// The window's summary at `moment`, counted afresh from the shared events (for a window that keeps
    /// none): the events before the window's start have left it; a range window lets the rest in as it is
    /// read (``windowValue(_:events:at:until:)``).
    func summary(at moment: EpochMillis, events: borrowing ProfileEvents) -> WindowSummary {
        var s = WindowSummary(feature: Int32(index))
        let start = events.firstPosition(notBefore: horizon(at: moment))
        s.exit = Int32(start)
        s.enter = Int32(start)
        guard !isRange else { return s }
        let bit = bit!
        for position in start..<events.count where events.has(position, bit) { add(&s, position, events, appending: true) }
        skipUncounted(&s, events)
        return s
    }

    /// Whether a window read through a summary counted afresh keeps it from then on, following its events as
    /// they come and go: it counts more than ``summaryFrom`` events, or spans more than twice as many shared
    /// events (every read would pass over them), or holds a tally (`sum per` always does).
    func keepsSummary(_ s: borrowing WindowSummary, events: borrowing ProfileEvents) -> Bool {
        s.keepsTallyStorage || Int(s.count) > summaryFrom || events.count - Int(s.exit) > 2 * summaryFrom
    }

    /// Whether a kept summary can go, its window counted afresh at each read again: it counts nothing, or
    /// is back to half of ``keepsSummary(_:events:)``'s bounds (`sum per`, whose groups' sums are kept,
    /// keeps it until it counts nothing). Its figures need not be up to date: reads count from the window's
    /// start, the events before it have left.
    func mayDropSummary(_ s: borrowing WindowSummary, events: borrowing ProfileEvents) -> Bool {
        if s.count == 0 { return true }
        if function == .sum, keySlot >= 0 { return false }
        return Int(s.count) <= summaryFrom / 2 && events.count - Int(s.exit) <= summaryFrom
    }

    /// `appending`: the events after `position` are not in the figures yet.
    private func add(_ s: inout WindowSummary, _ position: Int, _ events: borrowing ProfileEvents, appending: Bool = false) {
        s.count += 1
        let value = events.value(position, slot: valueSlot)
        if readsNumbers, let n = table.number(value) {
            if function == .min || function == .max {
                if s.numbers == 0 || (s.extremeIsStale == false && (function == .min ? n < s.sum : n > s.sum)) {
                    s.sum = n
                    s.extremeIsStale = false
                }
            } else {
                s.sum += n
                if n < 0 { s.negatives += 1 }
            }
            s.numbers += 1
        }
        switch function {
        case .distinct, .top, .count:
            guard function != .count || keySlot >= 0 else { break }  // a plain count tallies nothing
            if s.keepsTallyStorage {
                s.tally.add(1, to: events.value(position, slot: tallySlot))
            } else if s.count > summaryFrom {
                // The events counted so far, this one included (when appending, those after it are not yet).
                buildTally(&s, events, end: appending ? position + 1 : end(s, events))
            }
        case .sum where keySlot >= 0: s.tally.add(table.number(value) ?? 0, to: events.value(position, slot: keySlot))
        case .sessions:
            let previous = previousCounted(before: position, s, events)
            let next = appending ? nil : nextCounted(after: position, s, events)
            var change = 0
            if let previous { change += Self.gap(events.time(previous), events.time(position)) }
            if let next { change += Self.gap(events.time(position), events.time(next)) }
            if let previous, let next { change -= Self.gap(events.time(previous), events.time(next)) }
            s.breaks += Int32(change)
        default: break
        }
    }

    /// Takes the oldest counted event inside the window, at `position`, out of the figures.
    private func remove(_ s: inout WindowSummary, _ position: Int, _ events: borrowing ProfileEvents) {
        s.count -= 1
        let value = events.value(position, slot: valueSlot)
        if readsNumbers, let n = table.number(value) {
            if function == .min || function == .max {
                if n == s.sum { s.extremeIsStale = true }  // found again when next read
            } else {
                s.sum -= n
                if n < 0 { s.negatives -= 1 }
            }
            s.numbers -= 1
        }
        switch function {
        case .distinct, .top, .count:
            guard s.keepsTallyStorage else { break }  // (a plain count never has one)
            s.tally.add(-1, to: events.value(position, slot: tallySlot), removingZero: true)
        case .sum where keySlot >= 0:
            // A group's sum can reach zero with members left (sums of zero): look for members.
            let key = events.value(position, slot: keySlot)
            s.tally.add(-(table.number(value) ?? 0), to: key)
            let bit = bit!
            let stillThere = ((position + 1)..<end(s, events)).contains {
                events.has($0, bit) && events.value($0, slot: keySlot) == key
            }
            if !stillThere { s.tally.remove(key) }
        case .sessions:
            if let next = nextCounted(after: position, s, events) {
                s.breaks -= Int32(Self.gap(events.time(position), events.time(next)))
            }
        default: break
        }
        if s.numbers == 0 { s.sum = 0 }
    }

    private func previousCounted(before position: Int, _ s: WindowSummary, _ events: borrowing ProfileEvents) -> Int? {
        let bit = bit!
        var i = position - 1
        while i >= Int(s.exit) {
            if events.has(i, bit) { return i }
            i -= 1
        }
        return nil
    }

    private func nextCounted(after position: Int, _ s: WindowSummary, _ events: borrowing ProfileEvents) -> Int? {
        let bit = bit!
        var i = position + 1
        let end = end(s, events)
        while i < end {
            if events.has(i, bit) { return i }
            i += 1
        }
        return nil
    }

    /// Rests `exit` on the first counted event inside the window.
    private func skipUncounted(_ s: inout WindowSummary, _ events: borrowing ProfileEvents) {
        let bit = bit!
        let end = end(s, events)
        var exit = Int(s.exit)
        while exit < end, !events.has(exit, bit) { exit += 1 }
        s.exit = Int32(exit)
    }

    /// Moves the window to `now`: counted events it has passed leave, those it has reached enter; lowers
    /// `until` to the first moment it moves again in a way that can change the value.
    private func slide(_ s: inout WindowSummary, _ events: borrowing ProfileEvents, to now: EpochMillis, until: inout EpochMillis) {
        let bit = bit!
        let oldest = horizon(at: now)
        var exit = Int(s.exit)
        let entered = end(s, events)
        while exit < entered, events.time(exit) < oldest {
            if events.has(exit, bit) { remove(&s, exit, events) }
            exit += 1
        }
        s.exit = Int32(exit)
        if case .range(let older, let newer) = spec.window {
            if exit == entered {
                // Events that entered and left while nobody looked are passed over.
                var enter = Int(s.enter)
                while enter < events.count, events.time(enter) < oldest { enter += 1 }
                s.enter = Int32(enter)
                s.exit = Int32(enter)
            }
            let newest = now - newer
            while Int(s.enter) < events.count, events.time(Int(s.enter)) <= newest {
                let position = Int(s.enter)
                s.enter += 1
                if events.has(position, bit) { add(&s, position, events) }
            }
            skipUncounted(&s, events)
            // In the window once `newer` has passed since the event, out once `older` has.
            if s.count > 0 { until = min(until, events.time(Int(s.exit)) + older) }
            var next = Int(s.enter)
            while next < events.count, !events.has(next, bit) { next += 1 }
            if next < events.count { until = min(until, events.time(next) + newer) }
            return
        }
        skipUncounted(&s, events)
        guard s.count > 0 else { return }
        if case .sliding(let length) = spec.window {
            until = min(until, events.time(Int(s.exit)) + length)
        } else {
            until = min(until, period(at: now).until)
        }
    }

    /// The feature's value at `now`.
    func windowValue(
        _ s: inout WindowSummary, events: borrowing ProfileEvents, at now: EpochMillis, until: inout EpochMillis
    ) -> RuleValue {
        guard let function else { return .null }
        slide(&s, events, to: now, until: &until)
        guard s.count > 0 else { return emptyValue(function) }
        let bit = bit!
        let range = Int(s.exit)..<end(s, events)
        switch function {
        case .count:
            guard keySlot >= 0 else { return .number(Double(s.count)) }
            tallyIfLong(&s, events)
            return .number(largestGroup(s, events))
        case .sum:
            return .number(keySlot >= 0 ? s.tally.largest ?? 0 : s.numbers == 0 ? 0 : s.sum)
        case .avg:
            return s.numbers == 0 ? .null : .number(s.sum / Double(s.numbers))
        case .min, .max:
            guard s.numbers > 0 else { return .null }
            if s.extremeIsStale {
                var extreme: Double?
                for position in range where events.has(position, bit) {
                    guard let n = table.number(events.value(position, slot: valueSlot)) else { continue }
                    if let e = extreme, function == .min ? e <= n : e >= n { continue }
                    extreme = n
                }
                s.sum = extreme ?? 0
                s.extremeIsStale = false
            }
            return .number(s.sum)
        case .distinct:
            tallyIfLong(&s, events)
            return .number(Double(distinctCount(s, events)))
        case .top:
            tallyIfLong(&s, events)
            if s.keepsTallyStorage { return tallyValue(function, s.tally) }
            return withGroups(s, events) { topValue(of: $0) }
        case .first: return table.value(events.value(range.lowerBound, slot: valueSlot))
        case .firstTime: return .time(events.time(range.lowerBound))
        case .last, .lastTime:
            guard let last = range.reversed().first(where: { events.has($0, bit) }) else { return .null }
            return function == .last ? table.value(events.value(last, slot: valueSlot)) : .time(events.time(last))
        case .exists: return .bool(true)
        case .sessions: return .number(Double(s.breaks + 1))
        case .sequence: return .null
        }
    }

    /// For a figure that time can only lower — a count (plain or per group), a distinct count, a number of
    /// sessions, a sum of amounts none of which is negative, a maximum — in a sliding or calendar window: the
    /// moment `threshold` can first stop holding (`.max` when it does not hold now: it cannot again without
    /// an event), so that a threshold wakes the profile once instead of at every event leaving the window.
    /// nil when the figure is not of that kind. The summary must have been slid to `now`; `figure`: the
    /// value the read at `now` gave.
    func windowMomentBelow(
        _ threshold: Threshold, _ s: borrowing WindowSummary, events: borrowing ProfileEvents, at now: EpochMillis,
        figure: Double
    ) -> EpochMillis? {
        if isRange { return nil }  // events enter range windows too
        switch function {
        case .count, .distinct, .sessions:
            return wholeFigureMomentBelow(threshold.wholeAtLeast, s, events: events, at: now, figure: Int(figure))
        case .sum where keySlot < 0: return sumMomentBelow(threshold, s, events: events)
        case .max: return maximumMomentBelow(threshold, s, events: events)
        default: return nil
        }
    }

    /// Each event leaving lowers a count, distinct count or number of sessions by one at most, so it cannot
    /// fall below `atLeast` before `figure - atLeast + 1` events have left: exact for a plain count, an early
    /// (harmless) wake-up for the others.
    private func wholeFigureMomentBelow(
        _ atLeast: Double, _ s: borrowing WindowSummary, events: borrowing ProfileEvents, at now: EpochMillis, figure: Int
    ) -> EpochMillis? {
        guard figure >= Int(max(atLeast, 0)), atLeast > 0 else { return .max }
        switch spec.window {
        case .sliding(let length):
            // The moment the (figure - atLeast + 1)-th oldest counted event leaves. Far above the
            // threshold, the search stops early and answers an earlier moment.
            var left = figure - Int(atLeast)
            let bit = bit!
            var position = Int(s.exit)
            for _ in 0..<64 {
                if events.has(position, bit) {
                    if left == 0 { break }
                    left -= 1
                }
                position += 1
            }
            return events.time(position) + length
        case .calendarDays, .thisWeek, .thisMonth:
            return period(at: now).until
        default:
            return nil
        }
    }

    /// How many counted events a wake-up moment is looked for among before the search gives up (and the
    /// profile wakes as each event leaves, as for any figure).
    private static let searchLimit = 256

    /// A sum in a sliding window, replayed as its events leave one by one (the same subtractions the
    /// summary will make): exact, as long as no amount is negative (one leaving would raise the sum).
    private func sumMomentBelow(_ threshold: Threshold, _ s: borrowing WindowSummary, events: borrowing ProfileEvents) -> EpochMillis? {
        guard case .sliding(let length) = spec.window else { return nil }
        guard s.negatives == 0, s.numbers <= Self.searchLimit else { return nil }
        let bit = bit!
        var amounts = Int(s.numbers)
        var sum = amounts == 0 ? 0 : s.sum
        guard threshold.holds(sum) else { return .max }
        for position in Int(s.exit)..<events.count where events.has(position, bit) {
            guard let n = table.number(events.value(position, slot: valueSlot)) else { continue }
            amounts -= 1
            sum = amounts == 0 ? 0 : sum - n
            if !threshold.holds(sum) { return events.time(position) + length }
        }
        return .max
    }

    /// A maximum in a sliding window holds a threshold until the latest amount that holds it leaves; one
    /// below it stays below, until the latest amount leaves and the maximum is null (`max < k` is false).
    private func maximumMomentBelow(_ threshold: Threshold, _ s: borrowing WindowSummary, events: borrowing ProfileEvents) -> EpochMillis? {
        guard case .sliding(let length) = spec.window else { return nil }
        guard s.numbers > 0, !s.extremeIsStale else { return s.numbers == 0 ? .max : nil }
        let holds = threshold.holds(s.sum)
        if !holds, !threshold.asksBelow { return .max }  // `max > k` false, and null keeps it false
        let bit = bit!
        var position = events.count - 1
        for _ in 0..<Self.searchLimit {
            guard position >= Int(s.exit) else { break }
            if events.has(position, bit), let n = table.number(events.value(position, slot: valueSlot)),
               !holds || threshold.holds(n) {
                return events.time(position) + length
            }
            position -= 1
        }
        return nil
    }

    /// The log sequence numbers of the counted events inside the window.
    func countedSeqs(_ s: WindowSummary, events: borrowing ProfileEvents) -> [Int64] {
        let bit = bit!
        return (Int(s.exit)..<end(s, events)).filter { events.has($0, bit) }.map { events.seq($0) }
    }

    // MARK: - Tallies of events (``summaryFrom``)

    /// The slot of what a tally of events counts: the value (distinct, top) or the group (count per).
    private var tallySlot: Int { function == .count ? keySlot : valueSlot }

    /// Tallies the counted events before `end` (inside the window).
    private func buildTally(_ s: inout WindowSummary, _ events: borrowing ProfileEvents, end: Int) {
        let bit = bit!
        var tally = Tally()
        for position in Int(s.exit)..<end where events.has(position, bit) {
            tally.add(1, to: events.value(position, slot: tallySlot))
        }
        s.tally = tally
    }

    /// Tallies the window's events when it spans too many shared events to count them at every read.
    private func tallyIfLong(_ s: inout WindowSummary, _ events: borrowing ProfileEvents) {
        guard !s.keepsTallyStorage, end(s, events) - Int(s.exit) > 2 * summaryFrom else { return }
        buildTally(&s, events, end: end(s, events))
    }

    /// Calls `body` with each value or group of the counted events inside the window and how many there
    /// are, counted from the shared events (the window keeps no tally).
    private func withGroups<Result>(
        _ s: borrowing WindowSummary, _ events: borrowing ProfileEvents,
        _ body: (UnsafeMutableBufferPointer<(key: PackedValue, count: Int)>) -> Result
    ) -> Result {
        let bit = bit!
        let range = Int(s.exit)..<end(s, events)
        return withUnsafeTemporaryAllocation(of: (key: PackedValue, count: Int).self, capacity: max(1, range.count)) { groups in
            var found = 0
            for position in range where events.has(position, bit) {
                let key = events.value(position, slot: tallySlot)
                var i = 0
                while i < found, groups[i].key != key { i += 1 }
                if i == found {
                    groups.initializeElement(at: found, to: (key, 1))
                    found += 1
                } else {
                    groups[i].count += 1
                }
            }
            return body(UnsafeMutableBufferPointer(rebasing: groups[0..<found]))  // plain values: nothing to deinitialize
        }
    }

    /// How many distinct values: from the tally or the shared events.
    private func distinctCount(_ s: borrowing WindowSummary, _ events: borrowing ProfileEvents) -> Int {
        s.keepsTallyStorage ? s.tally.count : withGroups(s, events) { $0.count }
    }

    /// The largest group's count (count per): from the tally or the shared events.
    private func largestGroup(_ s: borrowing WindowSummary, _ events: borrowing ProfileEvents) -> Double {
        if s.keepsTallyStorage { return s.tally.largest ?? 0 }
        return withGroups(s, events) { groups in Double(groups.lazy.map(\.count).max() ?? 0) }
    }

    /// The most frequent value among `groups`.
    private func topValue(of groups: UnsafeMutableBufferPointer<(key: PackedValue, count: Int)>) -> RuleValue {
        guard let most = groups.lazy.map(\.count).max() else { return .null }
        return mostFrequent(Double(most)) { body in
            for group in groups { body(group.key, Double(group.count)) }
        }
    }

    /// 1 when two consecutive events belong to different sessions (over 30 minutes apart).
    static func gap(_ a: EpochMillis, _ b: EpochMillis) -> Int {
        b - a > sessionGap ? 1 : 0
    }
}
