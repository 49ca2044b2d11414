/// The matching events a sequence keeps (with the step each one matched), or all-time sessions keep, in time
/// order. Windowed aggregates count the profile's shared events instead (``ProfileEvents``).
///
/// Indices `head..<head + inWindow` are inside the window; later ones have not entered it yet (only range
/// windows have those: `between 90 and 30 days ago`). Events enter at the back and leave at the front.
/// Held in the feature's slot (21 bytes: within the slot's 40), which lets go of it while it changes, so
/// that its rows are changed in place.
struct EntryWindow: Sendable {
    /// Per entry, side by side in one array: its timestamp, then its log sequence number shifted up by
    /// ``stepBits`` with the step of the sequence it matched (0 for sessions) below: 16 bytes an entry.
    /// (A profile keeps a sequence's steps for its whole window: a month of views, for most profiles the
    /// largest thing they hold.)
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

    /// The bits of an entry's second word that hold its step: a sequence has at most 255 steps
    /// (``maximumSteps``), a log sequence number at most 2^55 (a billion events a day would take the log
    /// a hundred thousand years to reach it).
    static let stepBits = 8
    static let maximumSteps = 1 << stepBits - 1

    var count: Int { rows.count &>> 1 }
    @inline(__always) func time(_ i: Int) -> EpochMillis { rows[i &<< 1] }
    @inline(__always) func seq(_ i: Int) -> Int64 { rows[i &<< 1 &+ 1] &>> Self.stepBits }
    @inline(__always) private func step(_ i: Int) -> Int64 { rows[i &<< 1 &+ 1] & Int64(Self.maximumSteps) }

    @inline(__always) private static func tagged(seq: Int64, step: Int64) -> Int64 {
        precondition(seq &>> (63 &- stepBits) == 0 || seq &>> (63 &- stepBits) == -1, "log sequence number \(seq) out of range")
        return seq &<< stepBits | step
    }

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
        let tagged = Self.tagged(seq: entry.seq, step: stepIndex)
        rows.reserveSlowly(2)
        if index == count {
            rows.append(entry.timestamp)
            rows.append(tagged)
        } else {
            rows.insert(contentsOf: [entry.timestamp, tagged], at: 2 * index)
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
        // Forgotten at once (moving the few entries left costs less than keeping the dead ones: a window of
        // steps slides a little at a time, and most profiles hold one).
        rows.removeFirst(2 * head)
        rows.shrinkIfSparse()
        head = 0
    }

    /// True when some entries inside the window match the steps `0..<stepCount` in order (each strictly
    /// after the previous in the log's time order) with the whole run inside `within`.
    ///
    /// One pass, whatever the number of entries: for each number of steps, the latest start of a run that
    /// has reached it so far (of all runs reaching a step, the latest started has the most room left within
    /// `within`). The entries of one event (one per step it matched) cannot follow one another: each is read
    /// against the runs of the entries before that event.
    func sequenceCompletes(stepCount: Int, within: Int64?) -> Bool {
        guard stepCount > 0 else { return false }  // (the compiler refuses sequences of fewer than two steps)
        let end = head + inWindow
        let none = Int64.min
        return withUnsafeTemporaryAllocation(of: Int64.self, capacity: 2 * stepCount) { memory in
            // latestStart[k]: of the runs through steps 0..<k+1 so far, the latest start; then the event's
            // own runs, kept apart until its entries are all read.
            let latestStart = UnsafeMutableBufferPointer(rebasing: memory[0..<stepCount])
            let eventStart = UnsafeMutableBufferPointer(rebasing: memory[stepCount...])
            latestStart.initialize(repeating: none)
            eventStart.initialize(repeating: none)
            var i = head
            while i < end {
                var j = i
                repeat {
                    let step = Int(truncatingIfNeeded: self.step(j))
                    let start = step == 0 ? time(j) : latestStart[step - 1]
                    if start != none {
                        if step == stepCount - 1, within.map({ time(j) - start <= $0 }) ?? true { return true }
                        eventStart[step] = max(eventStart[step], start)
                    }
                    j += 1
                } while j < end && time(j) == time(i) && seq(j) == seq(i)
                for step in 0..<stepCount where eventStart[step] != none {
                    latestStart[step] = max(latestStart[step], eventStart[step])
                    eventStart[step] = none
                }
                i = j
            }
            return false
        }
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
            out.rows.append(tagged(seq: entry.seq, step: takeA ? a.step(i - 1) : b.step(j - 1)))
        }
        return out
    }
}
