/// The matching events a windowed feature keeps, in time order, with a running summary of those inside
/// the window, so that an aggregate is read in constant time however many events the window holds.
///
/// `entries[head..<head + inWindow]` are inside the window; later ones have not entered it yet (only range
/// windows have those: `between 90 and 30 days ago`). Events enter at the back and leave at the front.
struct EntryWindow: Sendable, Equatable {
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

    private(set) var entries: [FeatureEntry] = []
    private(set) var head = 0
    private(set) var inWindow = 0
    let summary: Summary
    private(set) var sum: Double = 0
    private(set) var numbers = 0
    private(set) var tally: [RuleValue: Double] = [:]
    private(set) var breaks = 0

    init(summary: Summary) {
        self.summary = summary
    }

    var isEmpty: Bool { head == entries.count }
    /// The entries inside the window, oldest first.
    var window: ArraySlice<FeatureEntry> { entries[head..<(head + inWindow)] }
    /// Every kept entry, those yet to enter included.
    var all: ArraySlice<FeatureEntry> { entries[head...] }
    var first: FeatureEntry? { isEmpty ? nil : entries[head] }
    /// The first entry that has not entered the window yet.
    var nextToEnter: FeatureEntry? { head + inWindow < entries.count ? entries[head + inWindow] : nil }

    /// Adds a matching event in its time place. One older than the newest inside the window is inside it
    /// too; others wait for ``enter(while:)``.
    mutating func insert(_ entry: FeatureEntry) {
        var index = entries.count
        while index > head, entry.precedes(entries[index - 1]) { index -= 1 }
        let end = head + inWindow
        if index < end {
            let previous = index > head ? entries[index - 1] : nil
            let next = entries[index]
            if case .sessions = summary {
                if let previous { breaks += Self.gap(previous, entry) + Self.gap(entry, next) - Self.gap(previous, next) }
                else { breaks += Self.gap(entry, next) }
            }
            entries.insert(entry, at: index)
            inWindow += 1
            add(entry)
        } else {
            entries.insert(entry, at: index)
        }
    }

    /// Lets entries into the window, oldest first, while `isInside` says they are.
    mutating func enter(while isInside: (FeatureEntry) -> Bool) {
        while head + inWindow < entries.count, isInside(entries[head + inWindow]) {
            let entry = entries[head + inWindow]
            if case .sessions = summary, inWindow > 0 { breaks += Self.gap(entries[head + inWindow - 1], entry) }
            inWindow += 1
            add(entry)
        }
    }

    /// Drops entries older than `oldest`.
    mutating func drop(before oldest: EpochMillis) {
        while head < entries.count, entries[head].timestamp < oldest {
            if inWindow > 0 {
                if case .sessions = summary, inWindow > 1 { breaks -= Self.gap(entries[head], entries[head + 1]) }
                remove(entries[head])
                inWindow -= 1
            }
            head += 1
        }
        if head == entries.count {
            entries.removeAll(keepingCapacity: entries.capacity <= 64)
            head = 0
        } else if head > 32, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }

    /// The same events, summaries rebuilt: what a merge of two profiles' windows gives.
    static func merged(_ a: EntryWindow, _ b: EntryWindow) -> EntryWindow {
        var out = EntryWindow(summary: a.summary)
        let x = a.all, y = b.all
        out.entries.reserveCapacity(x.count + y.count)
        var i = x.startIndex, j = y.startIndex
        while i < x.endIndex || j < y.endIndex {
            if j == y.endIndex || (i < x.endIndex && !y[j].precedes(x[i])) {
                out.entries.append(x[i])
                i += 1
            } else {
                out.entries.append(y[j])
                j += 1
            }
        }
        return out
    }

    private mutating func add(_ entry: FeatureEntry) {
        if let n = entry.value.numberValue {
            sum += n
            numbers += 1
        }
        switch summary {
        case .plain, .sessions: break
        case .byValue: tally[entry.value, default: 0] += 1
        case .byKey(let sums): tally[entry.key, default: 0] += sums ? entry.value.numberValue ?? 0 : 1
        }
    }

    private mutating func remove(_ entry: FeatureEntry) {
        if let n = entry.value.numberValue {
            sum -= n
            numbers -= 1
        }
        func decrease(_ key: RuleValue, by amount: Double) {
            let left = (tally[key] ?? 0) - amount
            tally[key] = left == 0 ? nil : left
        }
        switch summary {
        case .plain, .sessions: break
        case .byValue: decrease(entry.value, by: 1)
        case .byKey(let sums):
            // A group's figure can reach zero without the group being empty (sums of zero): count members.
            if sums {
                tally[entry.key, default: 0] -= entry.value.numberValue ?? 0
                if !window.contains(where: { $0.key == entry.key && $0 != entry }) { tally[entry.key] = nil }
            } else {
                decrease(entry.key, by: 1)
            }
        }
        if numbers == 0 { sum = 0 }
    }

    /// 1 when the two consecutive events belong to different sessions.
    static func gap(_ a: FeatureEntry, _ b: FeatureEntry) -> Int {
        b.timestamp - a.timestamp > FeatureLogic.sessionGap ? 1 : 0
    }
}
