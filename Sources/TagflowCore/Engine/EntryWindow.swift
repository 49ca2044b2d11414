/// The matching events a sequence keeps (with the step each one matched), or all-time sessions keep, in time
/// order. Windowed aggregates count the profile's shared events instead (``ProfileEvents``).
///
/// Indices `head..<head + inWindow` are inside the window; later ones have not entered it yet (only range
/// windows have those: `between 90 and 30 days ago`). Events enter at the back and leave at the front.
/// Held in the feature's slot (21 bytes: within the slot's 40), which lets go of it while it changes, so
/// that its rows are changed in place.
struct EntryWindow: Sendable {
    /// Per entry, side by side in one array: its timestamp, its log sequence number and the step of the
    /// sequence it matched (0 for sessions).
    private var rows: [Int64] = []
    private var first: Int32 = 0
    private var entered: Int32 = 0
    private var gaps: Int32 = 0
    /// Sessions: count the gaps of over 30 minutes between consecutive events (and keep no steps).
    let countsSessions: Bool

    /// The first entry kept.
    private(set) var head: Int {
        get { Int(first) }
        set { first = Int32(newValue) }
    }
    /// How many entries from `head` are inside the window.
    private(set) var inWindow: Int {
        get { Int(entered) }
        set { entered = Int32(newValue) }
    }
    /// Sessions: gaps of over 30 minutes between consecutive entries inside the window.
    private(set) var breaks: Int {
        get { Int(gaps) }
        set { gaps = Int32(newValue) }
    }

    init(countsSessions: Bool) {
        self.countsSessions = countsSessions
    }

    /// The address of the storage its rows are in (for ``InnerArrays``' check of the layout).
    var storageAddress: UnsafeRawPointer { unsafeBitCast(rows, to: UnsafeRawPointer.self) }

    var count: Int { rows.count / 3 }
    @inline(__always) func time(_ i: Int) -> EpochMillis { rows[3 &* i] }
    @inline(__always) func seq(_ i: Int) -> Int64 { rows[3 &* i &+ 1] }
    @inline(__always) private func step(_ i: Int) -> Int64 { rows[3 &* i &+ 2] }

    var isEmpty: Bool { head == count }
    /// The indices of the entries inside the window, oldest first.
    var window: Range<Int> { head..<(head + inWindow) }
    /// The index of the first entry that has not entered the window yet.
    var nextToEnter: Int? { head + inWindow < count ? head + inWindow : nil }

    func entry(_ i: Int) -> FeatureEntry {
        FeatureEntry(timestamp: time(i), seq: seq(i), value: .null, key: countsSessions ? .null : .number(Double(step(i))))
    }

    @inline(__always) private func precedes(_ entry: FeatureEntry, _ i: Int) -> Bool {
        entry.timestamp < time(i) || (entry.timestamp == time(i) && entry.seq < seq(i))
    }

    /// Adds a matching event in its time place. One older than the newest inside the window is inside it
    /// too; others wait for ``enter(while:)``.
    mutating func insert(_ entry: FeatureEntry) {
        var index = count
        while index > head, precedes(entry, index - 1) { index -= 1 }
        let end = head + inWindow
        if index < end, countsSessions {
            let next = time(index)
            if index > head {
                let previous = time(index - 1)
                breaks += FeatureLogic.gap(previous, entry.timestamp) + FeatureLogic.gap(entry.timestamp, next) - FeatureLogic.gap(previous, next)
            } else {
                breaks += FeatureLogic.gap(entry.timestamp, next)
            }
        }
        let stepIndex = countsSessions ? 0 : Int64(entry.key.numberValue ?? 0)
        rows.reserveSlowly(3)
        if index == count {
            rows.append(entry.timestamp)
            rows.append(entry.seq)
            rows.append(stepIndex)
        } else {
            rows.insert(contentsOf: [entry.timestamp, entry.seq, stepIndex], at: 3 * index)
        }
        if index < end { inWindow += 1 }
    }

    /// Lets entries into the window, oldest first, while `isInside` says their timestamp is.
    mutating func enter(while isInside: (EpochMillis) -> Bool) {
        while head + inWindow < count, isInside(time(head + inWindow)) {
            let index = head + inWindow
            if countsSessions, inWindow > 0 { breaks += FeatureLogic.gap(time(index - 1), time(index)) }
            inWindow += 1
        }
    }

    /// Lets every kept entry into the window.
    mutating func enterAll() {
        if countsSessions { enter { _ in true } } else { inWindow = count - head }
    }

    /// Drops entries older than `oldest`.
    mutating func drop(before oldest: EpochMillis) {
        guard head < count, time(head) < oldest else { return }
        while head < count, time(head) < oldest {
            if inWindow > 0 {
                if countsSessions, inWindow > 1 { breaks -= FeatureLogic.gap(time(head), time(head + 1)) }
                inWindow -= 1
            }
            head += 1
        }
        if head > 16 || head == count, head * 2 >= count {
            rows.removeFirst(3 * head)
            rows.shrinkIfSparse()
            head = 0
        }
    }

    /// True when some entries inside the window match the steps `0..<stepCount` in order (each strictly
    /// after the previous in the log's time order) with the whole run inside `within`.
    func sequenceCompletes(stepCount: Int, within: Int64?) -> Bool {
        let end = head + inWindow
        let steps = Int64(stepCount)
        for start in window where step(start) == 0 {
            var reached: Int64 = 1
            var last = start
            var j = start + 1
            while reached < steps, j < end {
                if step(j) == reached, time(last) < time(j) || (time(last) == time(j) && seq(last) < seq(j)) {
                    last = j
                    reached += 1
                }
                j += 1
            }
            if reached == steps, within.map({ time(last) - time(start) <= $0 }) ?? true { return true }
            if reached < steps { return false }  // later starts cannot complete either
        }
        return false
    }

    /// The same events, summaries rebuilt: what a merge of two profiles' windows gives.
    static func merged(_ a: EntryWindow, _ b: EntryWindow) -> EntryWindow {
        var out = EntryWindow(countsSessions: a.countsSessions)
        var i = a.head, j = b.head
        while i < a.count || j < b.count {
            // Ties in time keep log order; `a` first when the two are the same moment and number.
            let takeA = j == b.count
                || (i < a.count && !(b.time(j) < a.time(i) || (b.time(j) == a.time(i) && b.seq(j) < a.seq(i))))
            let entry = takeA ? a.entry(i) : b.entry(j)
            if takeA { i += 1 } else { j += 1 }
            out.rows.append(entry.timestamp)
            out.rows.append(entry.seq)
            out.rows.append(takeA ? a.step(i - 1) : b.step(j - 1))
        }
        return out
    }
}
