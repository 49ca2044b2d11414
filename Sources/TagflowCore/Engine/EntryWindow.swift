/// The matching events a windowed feature keeps, in time order, with a running summary of those inside
/// the window, so that an aggregate is read in constant time however many events the window holds.
///
/// Columns, not rows: every entry has a timestamp and a log sequence number; the aggregated value and the
/// group key are kept only by features that read them, so a count costs 16 bytes an event.
/// Indices `head..<head + inWindow` are inside the window; later ones have not entered it yet (only range
/// windows have those: `between 90 and 30 days ago`). Events enter at the back and leave at the front.
/// A class: a profile's window is changed in place, never copied.
final class EntryWindow: @unchecked Sendable {
    /// The summary kept: what the feature's aggregate needs.
    enum Summary: Sendable, Equatable {
        /// count, sum, avg, exists, first, last, times.
        case plain
        /// distinct / top: how many times each value occurs.
        case byValue
        /// count per / sum per: the figure of each group.
        case byKey(sums: Bool)
        /// sessions: how many gaps of over 30 minutes separate consecutive events.
        case sessions
    }

    let summary: Summary
    let keepsValues: Bool
    let keepsKeys: Bool
    private(set) var times: [EpochMillis] = []
    private(set) var seqs: [Int64] = []
    private var values: [RuleValue] = []
    private var keys: [RuleValue] = []
    private(set) var head = 0
    private(set) var inWindow = 0
    private(set) var sum: Double = 0
    private(set) var numbers = 0
    private(set) var tally: [RuleValue: Double] = [:]
    private(set) var breaks = 0

    init(summary: Summary, keepsValues: Bool, keepsKeys: Bool) {
        self.summary = summary
        self.keepsValues = keepsValues
        self.keepsKeys = keepsKeys
    }

    var isEmpty: Bool { head == times.count }
    /// The indices of the entries inside the window, oldest first.
    var window: Range<Int> { head..<(head + inWindow) }
    /// The index of the first entry that has not entered the window yet.
    var nextToEnter: Int? { head + inWindow < times.count ? head + inWindow : nil }

    @inline(__always) func value(_ i: Int) -> RuleValue { keepsValues ? values[i] : .null }
    @inline(__always) func key(_ i: Int) -> RuleValue { keepsKeys ? keys[i] : .null }
    func entry(_ i: Int) -> FeatureEntry { FeatureEntry(timestamp: times[i], seq: seqs[i], value: value(i), key: key(i)) }

    @inline(__always) private func precedes(_ entry: FeatureEntry, _ i: Int) -> Bool {
        entry.timestamp < times[i] || (entry.timestamp == times[i] && entry.seq < seqs[i])
    }

    /// Adds a matching event in its time place. One older than the newest inside the window is inside it
    /// too; others wait for ``enter(while:)``.
    func insert(_ entry: FeatureEntry) {
        var index = times.count
        while index > head, precedes(entry, index - 1) { index -= 1 }
        let end = head + inWindow
        if index < end, case .sessions = summary {
            let next = times[index]
            if index > head {
                let previous = times[index - 1]
                breaks += Self.gap(previous, entry.timestamp) + Self.gap(entry.timestamp, next) - Self.gap(previous, next)
            } else {
                breaks += Self.gap(entry.timestamp, next)
            }
        }
        if index == times.count {
            times.append(entry.timestamp)
            seqs.append(entry.seq)
            if keepsValues { values.append(entry.value) }
            if keepsKeys { keys.append(entry.key) }
        } else {
            times.insert(entry.timestamp, at: index)
            seqs.insert(entry.seq, at: index)
            if keepsValues { values.insert(entry.value, at: index) }
            if keepsKeys { keys.insert(entry.key, at: index) }
        }
        if index < end {
            inWindow += 1
            add(index)
        }
    }

    /// Lets entries into the window, oldest first, while `isInside` says their timestamp is.
    func enter(while isInside: (EpochMillis) -> Bool) {
        while head + inWindow < times.count, isInside(times[head + inWindow]) {
            let index = head + inWindow
            if case .sessions = summary, inWindow > 0 { breaks += Self.gap(times[index - 1], times[index]) }
            inWindow += 1
            add(index)
        }
    }

    /// Lets every kept entry into the window.
    func enterAll() {
        if case .plain = summary, !keepsValues {
            inWindow = times.count - head
        } else {
            enter { _ in true }
        }
    }

    /// Drops entries older than `oldest`.
    func drop(before oldest: EpochMillis) {
        guard head < times.count, times[head] < oldest else { return }
        while head < times.count, times[head] < oldest {
            if inWindow > 0 {
                if case .sessions = summary, inWindow > 1 { breaks -= Self.gap(times[head], times[head + 1]) }
                remove(head)
                inWindow -= 1
            }
            head += 1
        }
        if head == times.count {
            let keep = times.capacity <= 16
            times.removeAll(keepingCapacity: keep)
            seqs.removeAll(keepingCapacity: keep)
            values.removeAll(keepingCapacity: keep)
            keys.removeAll(keepingCapacity: keep)
            head = 0
        } else if head > 16, head * 2 > times.count {
            times.removeFirst(head)
            seqs.removeFirst(head)
            if keepsValues { values.removeFirst(head) }
            if keepsKeys { keys.removeFirst(head) }
            head = 0
        }
    }

    /// The same events, summaries rebuilt: what a merge of two profiles' windows gives.
    static func merged(_ a: EntryWindow, _ b: EntryWindow) -> EntryWindow {
        let out = EntryWindow(summary: a.summary, keepsValues: a.keepsValues, keepsKeys: a.keepsKeys)
        var i = a.head, j = b.head
        while i < a.times.count || j < b.times.count {
            // Ties in time keep log order; `a` first when the two are the same moment and number.
            let takeA = j == b.times.count
                || (i < a.times.count && !(b.times[j] < a.times[i] || (b.times[j] == a.times[i] && b.seqs[j] < a.seqs[i])))
            let entry = takeA ? a.entry(i) : b.entry(j)
            if takeA { i += 1 } else { j += 1 }
            out.times.append(entry.timestamp)
            out.seqs.append(entry.seq)
            if out.keepsValues { out.values.append(entry.value) }
            if out.keepsKeys { out.keys.append(entry.key) }
        }
        return out
    }

    private func add(_ i: Int) {
        guard keepsValues || keepsKeys else { return }
        let value = value(i)
        if let n = value.numberValue {
            sum += n
            numbers += 1
        }
        switch summary {
        case .plain, .sessions: break
        case .byValue: tally[value, default: 0] += 1
        case .byKey(let sums): tally[key(i), default: 0] += sums ? value.numberValue ?? 0 : 1
        }
    }

    /// Takes the entry at `i`, the oldest inside the window, out of the summary.
    private func remove(_ i: Int) {
        guard keepsValues || keepsKeys else { return }
        let value = value(i)
        if let n = value.numberValue {
            sum -= n
            numbers -= 1
        }
        func decrease(_ key: RuleValue, by amount: Double) {
            let left = (tally[key] ?? 0) - amount
            tally[key] = left == 0 ? nil : left
        }
        switch summary {
        case .plain, .sessions: break
        case .byValue: decrease(value, by: 1)
        case .byKey(let sums):
            let key = key(i)
            // A group's figure can reach zero without the group being empty (sums of zero): count members.
            if sums {
                tally[key, default: 0] -= value.numberValue ?? 0
                if !keys[(i + 1)..<(head + inWindow)].contains(key) { tally[key] = nil }
            } else {
                decrease(key, by: 1)
            }
        }
        if numbers == 0 { sum = 0 }
    }

    /// 1 when two consecutive events belong to different sessions.
    static func gap(_ a: EpochMillis, _ b: EpochMillis) -> Int {
        b - a > FeatureLogic.sessionGap ? 1 : 0
    }
}
