/// The events of one profile that its windowed features count, each kept once whatever number of features
/// count it, in time order: a timestamp, a log sequence number, one bit per windowed feature that counted
/// it, and the few property values those features read.
///
/// A windowed feature reads its figure from these events when asked, from the first inside its window on
/// (found by time); one that counts many of them keeps a ``WindowSummary`` instead: running figures and
/// cursors into these events.
struct ProfileEvents: ~Copyable {
    /// Per event, in one array (a profile's events are read together): its timestamp, its sequence number,
    /// `words` words of bits and `slots` packed values (their text in the engine's ``ValueTable``).
    /// (24 bytes in all: a profile holds this inline.)
    private var rows = SmallBuffer<Int64>()
    private let words: UInt16
    private let slots: UInt16
    private var storedCount: Int32 = 0

    /// How many events.
    var count: Int { Int(storedCount) }

    init(layout: WindowLayout) {
        // At most 65,535 features (``TagSet/maximumFeatures``): 1,024 words of bits, 65,535 value slots.
        words = UInt16(layout.words)
        slots = UInt16(layout.slots)
    }

    private var stride: Int { 2 &+ Int(words) &+ Int(slots) }

    /// Starts loading the first events into the cache.
    @inline(__always) func prefetch() { rows.prefetch() }

    /// Room for more events without growing (for benchmarks).
    var spareCapacity: Int { rows.capacity / stride - count }

    @inline(__always) func time(_ position: Int) -> EpochMillis { rows[position &* stride] }

    @inline(__always) func seq(_ position: Int) -> Int64 { rows[position &* stride &+ 1] }

    @inline(__always) func has(_ position: Int, _ bit: WindowBit) -> Bool {
        UInt64(bitPattern: rows[position &* stride &+ 2 &+ bit.word]) & bit.mask != 0
    }

    @inline(__always) func value(_ position: Int, slot: Int) -> PackedValue {
        slot < 0 ? .null : PackedValue(raw: rows[position &* stride &+ 2 &+ Int(words) &+ slot])
    }

    /// The first event at or after `time` (events are in time order).
    func firstPosition(notBefore time: EpochMillis) -> Int {
        var low = 0, high = count
        while low < high {
            let middle = (low &+ high) &>> 1
            if self.time(middle) < time { low = middle &+ 1 } else { high = middle }
        }
        return low
    }

    /// Calls `body` with the bit number (in the layout's order) of each feature that counts the event at
    /// `position`, until it returns false; whether it never did.
    @inline(__always)
    func allCounting(_ position: Int, _ body: (Int) -> Bool) -> Bool {
        let first = position &* stride &+ 2
        for w in 0..<Int(words) {
            var bits = UInt64(bitPattern: rows[first &+ w])
            while bits != 0 {
                if !body(w &* 64 &+ bits.trailingZeroBitCount) { return false }
                bits &= bits &- 1
            }
        }
        return true
    }

    /// Every value of every event.
    func forEachValue(_ body: (PackedValue) -> Void) {
        for position in 0..<count {
            for slot in 0..<Int(slots) { body(value(position, slot: slot)) }
        }
    }

    @inline(__always) func precedes(_ time: EpochMillis, _ seq: Int64, _ position: Int) -> Bool {
        let t = self.time(position)
        return time < t || (time == t && seq < self.seq(position))
    }

    /// No feature counts the event at `position` any more.
    private func isUncounted(_ position: Int) -> Bool {
        let first = position &* stride &+ 2
        for w in first..<(first + Int(words)) where rows[w] != 0 { return false }
        return true
    }

    /// Puts an event in its time place and returns its position.
    mutating func insert(time: EpochMillis, seq: Int64, bits eventBits: [UInt64], values eventValues: [PackedValue]) -> Int {
        var position = count
        while position > 0, precedes(time, seq, position - 1) { position -= 1 }
        rows.reserveSlowly(stride)
        if position == count {
            rows.append(time)
            rows.append(seq)
            for word in eventBits { rows.append(Int64(bitPattern: word)) }
            for value in eventValues { rows.append(value.raw) }
        } else {
            let row = [time, seq] + eventBits.map { Int64(bitPattern: $0) } + eventValues.map(\.raw)
            rows.insert(contentsOf: row, at: position * stride)
        }
        storedCount += 1
        return position
    }

    mutating func shrinkToFit() { rows.shrinkToFit() }

    /// Forgets the first `n` events.
    mutating func dropFirst(_ n: Int) {
        guard n > 0 else { return }
        if n == count {
            rows.removeAll()  // most profiles are idle most of the time: their room goes back
        } else {
            rows.removeFirst(n * stride)
            rows.shrinkIfSparse()
        }
        storedCount -= Int32(n)
    }

    /// Clears a feature's bit on every event before `position`.
    mutating func clear(_ bit: WindowBit, before position: Int) {
        for i in 0..<min(position, count) { clear(bit, at: i) }
    }

    @inline(__always) mutating func clear(_ bit: WindowBit, at position: Int) {
        rows[position &* stride &+ 2 &+ bit.word] &= Int64(bitPattern: ~bit.mask)
    }

    /// Forgets the events no feature counts (all bits clear); returns where each position went: for every
    /// old position (and the end), the number of events kept before it.
    mutating func removeUncounted() -> [Int32] {
        var moved = [Int32](repeating: 0, count: count + 1)
        var kept = 0
        for i in 0..<count {
            moved[i] = Int32(kept)
            guard !isUncounted(i) else { continue }
            if kept != i {
                for w in 0..<stride { rows[kept * stride + w] = rows[i * stride + w] }
            }
            kept += 1
        }
        moved[count] = Int32(kept)
        rows.removeLast((count - kept) * stride)
        storedCount = Int32(kept)
        rows.shrinkIfSparse()
        return moved
    }

    /// Both profiles' events, in time order; events no feature counts any more are left out.
    static func merged(_ a: borrowing ProfileEvents, _ b: borrowing ProfileEvents) -> ProfileEvents {
        var out = ProfileEvents(words: a.words, slots: a.slots)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            let takesA = j == b.count || (i < a.count && !a.precedes(b.time(j), b.seq(j), i))
            if takesA {
                out.append(row: i, of: a)
                i += 1
            } else {
                out.append(row: j, of: b)
                j += 1
            }
        }
        return out
    }

    /// Appends another profile's event `k`, unless no feature counts it any more.
    private mutating func append(row k: Int, of side: borrowing ProfileEvents) {
        guard !side.isUncounted(k) else { return }
        rows.reserveSlowly(stride)
        for w in 0..<stride { rows.append(side.rows[k &* stride &+ w]) }
        storedCount += 1
    }

    private init(words: UInt16, slots: UInt16) {
        self.words = words
        self.slots = slots
    }
}

/// Where a windowed feature's bit sits in an event's words.
struct WindowBit {
    let word: Int
    let mask: UInt64
}

/// How the windowed features of a tag set share a profile's events: a bit each, and value slots for the
/// property paths they read.
struct WindowLayout {
    let words: Int
    let slots: Int
    /// Per feature: its bit, or nil when it keeps its own state.
    let bits: [WindowBit?]
    /// Per bit number (word × 64 + bit): its feature.
    let featureOfBit: [Int]
    /// Per feature: the slot of the value it reads and of its `per` key (-1: none).
    let valueSlots: [Int]
    let keySlots: [Int]

    init(features: [FeatureSpec]) {
        var bitCount = 0
        var paths: [[String]: Int] = [:]
        var valueSlots = [Int](repeating: -1, count: features.count)
        var keySlots = [Int](repeating: -1, count: features.count)
        var bitIndex = [Int?](repeating: nil, count: features.count)
        var featureOfBit: [Int] = []
        func slot(_ path: [String]) -> Int {
            if let s = paths[path] { return s }
            paths[path] = paths.count
            return paths.count - 1
        }
        for (index, spec) in features.enumerated() where spec.usesProfileEvents {
            bitIndex[index] = bitCount
            featureOfBit.append(index)
            bitCount += 1
            if !spec.property.isEmpty { valueSlots[index] = slot(spec.property) }
            if let per = spec.per { keySlots[index] = slot(per) }
        }
        let words = (bitCount + 63) / 64
        self.words = words
        slots = paths.count
        bits = bitIndex.map { $0.map { WindowBit(word: $0 / 64, mask: 1 << UInt64($0 % 64)) } }
        self.featureOfBit = featureOfBit
        self.valueSlots = valueSlots
        self.keySlots = keySlots
    }
}

extension FeatureSpec {
    /// Aggregates over a moving window keep a summary and count the profile's shared events; sequences,
    /// all-time aggregates and latest-only features keep their own state.
    var usesProfileEvents: Bool {
        guard case .aggregate(let function) = kind, function != .sequence, !keepsLatestOnly else { return false }
        return window != .allTime
    }
}

/// What a windowed feature keeps of a profile while its window counts many events
/// (``FeatureLogic/keepsSummary(_:events:)``): running figures over the events inside its window, and
/// cursors into the profile's events. A window counting a few keeps none: the same summary is counted
/// afresh from the shared events at each read (``FeatureLogic/summary(at:events:)``).
struct WindowSummary {
    /// `sum per`: the sum of each group; distinct / top / count per: the events of each value or group, but
    /// only while the window counts many events (``FeatureLogic/summaryFrom``) — for a few, they
    /// are counted from the shared events when read. The others keep two counters in its place. (First in
    /// the struct: its enum tag byte then fills what would be padding, and the summary takes 32 bytes;
    /// millions of profiles have a few each.)
    private var extra = Extra.counters(numbers: 0, marks: 0)
    private var featureIndex: UInt16
    /// The first event that has not left the window (events before it that the feature did not count may
    /// have been skipped: it rests on a counted event or on the end).
    var exit: Int32 = 0
    /// Range windows: the first event that has not entered the window yet.
    var enter: Int32 = 0
    var count: Int32 = 0
    /// The sum of the numbers; for min / max, the smallest or largest of them.
    var sum: Double = 0

    private enum Extra {
        case tally(Tally)
        /// How many counted events carry a number; sessions' breaks or sums' negative amounts.
        case counters(numbers: Int32, marks: Int32)
    }

    init(feature: Int32 = 0) {
        featureIndex = UInt16(feature)
    }

    /// The feature this summarises.
    var feature: Int32 { Int32(featureIndex) }

    /// Keeps the cursors on the same events after an event was put at `position`. `counted`: this feature
    /// counted it (then it cannot be older than what left the window: it was inside at arrival).
    mutating func shift(insertedAt position: Int, counted: Bool, isRange: Bool) {
        let p = Int32(position)
        if counted, p < exit {
            exit = p  // only skipped events the feature did not count lay between
        } else if exit > p {
            exit += 1
        }
        if isRange, p < enter { enter += 1 }
    }

    /// How many counted events carry a number (sum / avg / min / max; `sum per` keeps its tally instead,
    /// and reads 0 here).
    var numbers: Int32 {
        get { if case .counters(let numbers, _) = extra { numbers } else { 0 } }
        set { if case .counters(_, let marks) = extra { extra = .counters(numbers: newValue, marks: marks) } }
    }

    /// sessions: gaps of over 30 minutes between consecutive counted events.
    var breaks: Int32 {
        get { marks }
        set { marks = newValue }
    }

    /// sum / avg: how many of the numbers are negative (one leaving raises the sum).
    var negatives: Int32 {
        get { marks }
        set { marks = newValue }
    }

    private var marks: Int32 {
        get { if case .counters(_, let marks) = extra { marks } else { 0 } }
        set { if case .counters(let numbers, _) = extra { extra = .counters(numbers: numbers, marks: newValue) } }
    }

    /// The figure of each value or group (empty when it keeps none). Changed in place.
    var tally: Tally {
        get {
            if case .tally(let tally) = extra { return tally }
            return Tally()
        }
        _modify {
            var tally = Tally()
            if case .tally(let kept) = extra { tally = kept }
            extra = .counters(numbers: 0, marks: 0)  // the only reference left is `tally`: changed in place
            defer { extra = .tally(tally) }
            yield &tally
        }
    }

    /// It keeps a tally (told without copying the tally).
    var keepsTallyStorage: Bool {
        if case .tally = extra { true } else { false }
    }

    /// Where in a summary's memory a tally's storage address is: the tally is the payload of `extra`, at
    /// its start, and the tally's one stored property is that address (checked by ``InnerArrays``).
    static var tallyStorageOffset: Int { MemoryLayout<WindowSummary>.offset(of: \WindowSummary.extra)! }

    /// A summary tallying one event of each of `keys` (for ``InnerArrays``' check of the layout).
    static func withTally(_ keys: [PackedValue]) -> WindowSummary {
        var summary = WindowSummary()
        for key in keys { summary.tally.add(1, to: key) }
        return summary
    }

    func forEachTallyKey(_ body: (PackedValue) -> Void) {
        if case .tally(let tally) = extra { tally.forEachKey(body) }
    }

    /// min / max (which keep no session gaps): the extreme left the window and must be found again.
    var extremeIsStale: Bool {
        get { breaks != 0 }
        set { breaks = newValue ? 1 : 0 }
    }
}
