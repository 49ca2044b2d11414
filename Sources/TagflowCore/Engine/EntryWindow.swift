/// The matching events a sequence keeps (with the step each one matched), or all-time sessions keep, in time
/// order. Windowed aggregates count the profile's shared events instead (``ProfileEvents``).
///
/// Indices `head..<head + inWindow` are inside the window; later ones have not entered it yet (only range
/// windows have those: `between 90 and 30 days ago`). Events enter at the back and leave at the front.
/// A class: a profile's window is changed in place, never copied.
final class EntryWindow: @unchecked Sendable {
    /// Sessions: count the gaps of over 30 minutes between consecutive events (and keep no steps).
    let countsSessions: Bool
    private(set) var times: [EpochMillis] = []
    private(set) var seqs: [Int64] = []
    /// The step of a sequence each event matched.
    private var steps: [Int32] = []
    private(set) var head = 0
    private(set) var inWindow = 0
    private(set) var breaks = 0

    init(countsSessions: Bool) {
        self.countsSessions = countsSessions
    }

    var isEmpty: Bool { head == times.count }
    /// The indices of the entries inside the window, oldest first.
    var window: Range<Int> { head..<(head + inWindow) }
    /// The index of the first entry that has not entered the window yet.
    var nextToEnter: Int? { head + inWindow < times.count ? head + inWindow : nil }

    func entry(_ i: Int) -> FeatureEntry {
        FeatureEntry(timestamp: times[i], seq: seqs[i], value: .null, key: countsSessions ? .null : .number(Double(steps[i])))
    }

    @inline(__always) private func precedes(_ entry: FeatureEntry, _ i: Int) -> Bool {
        entry.timestamp < times[i] || (entry.timestamp == times[i] && entry.seq < seqs[i])
    }

    /// Adds a matching event in its time place. One older than the newest inside the window is inside it
    /// too; others wait for ``enter(while:)``.
    func insert(_ entry: FeatureEntry) {
        var index = times.count
        while index > head, precedes(entry, index - 1) { index -= 1 }
        let end = head + inWindow
        if index < end, countsSessions {
            let next = times[index]
            if index > head {
                let previous = times[index - 1]
                breaks += FeatureLogic.gap(previous, entry.timestamp) + FeatureLogic.gap(entry.timestamp, next) - FeatureLogic.gap(previous, next)
            } else {
                breaks += FeatureLogic.gap(entry.timestamp, next)
            }
        }
        times.reserveSlowly()
        times.insert(entry.timestamp, at: index)
        seqs.reserveSlowly()
        seqs.insert(entry.seq, at: index)
        if !countsSessions {
            steps.reserveSlowly()
            steps.insert(Int32(entry.key.numberValue ?? 0), at: index)
        }
        if index < end { inWindow += 1 }
    }

    /// Lets entries into the window, oldest first, while `isInside` says their timestamp is.
    func enter(while isInside: (EpochMillis) -> Bool) {
        while head + inWindow < times.count, isInside(times[head + inWindow]) {
            let index = head + inWindow
            if countsSessions, inWindow > 0 { breaks += FeatureLogic.gap(times[index - 1], times[index]) }
            inWindow += 1
        }
    }

    /// Lets every kept entry into the window.
    func enterAll() {
        if countsSessions { enter { _ in true } } else { inWindow = times.count - head }
    }

    /// Drops entries older than `oldest`.
    func drop(before oldest: EpochMillis) {
        guard head < times.count, times[head] < oldest else { return }
        while head < times.count, times[head] < oldest {
            if inWindow > 0 {
                if countsSessions, inWindow > 1 { breaks -= FeatureLogic.gap(times[head], times[head + 1]) }
                inWindow -= 1
            }
            head += 1
        }
        if head > 16 || head == times.count, head * 2 >= times.count {
            times.removeFirst(head)
            seqs.removeFirst(head)
            if !countsSessions { steps.removeFirst(head) }
            head = 0
        }
    }

    /// True when some entries inside the window match the steps `0..<stepCount` in order (each strictly
    /// after the previous in the log's time order) with the whole run inside `within`.
    func sequenceCompletes(stepCount: Int, within: Int64?) -> Bool {
        let end = head + inWindow
        for start in window where steps[start] == 0 {
            var step: Int32 = 1
            var last = start
            var j = start + 1
            while step < stepCount, j < end {
                if steps[j] == step, times[last] < times[j] || (times[last] == times[j] && seqs[last] < seqs[j]) {
                    last = j
                    step += 1
                }
                j += 1
            }
            if step == stepCount, within.map({ times[last] - times[start] <= $0 }) ?? true { return true }
            if step < stepCount { return false }  // later starts cannot complete either
        }
        return false
    }

    /// The same events, summaries rebuilt: what a merge of two profiles' windows gives.
    static func merged(_ a: EntryWindow, _ b: EntryWindow) -> EntryWindow {
        let out = EntryWindow(countsSessions: a.countsSessions)
        var i = a.head, j = b.head
        while i < a.times.count || j < b.times.count {
            // Ties in time keep log order; `a` first when the two are the same moment and number.
            let takeA = j == b.times.count
                || (i < a.times.count && !(b.times[j] < a.times[i] || (b.times[j] == a.times[i] && b.seqs[j] < a.seqs[i])))
            let entry = takeA ? a.entry(i) : b.entry(j)
            if takeA { i += 1 } else { j += 1 }
            out.times.append(entry.timestamp)
            out.seqs.append(entry.seq)
            if !out.countsSessions { out.steps.append(takeA ? a.steps[i - 1] : b.steps[j - 1]) }
        }
        return out
    }
}
