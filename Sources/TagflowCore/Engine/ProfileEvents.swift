/// The events of one profile that its windowed features count, each kept once whatever number of features
/// count it, in time order: a timestamp, a log sequence number, one bit per windowed feature that counted
/// it, and the few property values those features read.
///
/// A windowed feature keeps only a ``WindowSummary``: running figures and cursors into these events.
struct ProfileEvents {
    private(set) var times: [EpochMillis] = []
    private(set) var seqs: [Int64] = []
    /// `layout.words` words an event.
    private(set) var bits: [UInt64] = []
    /// `layout.slots` values an event.
    private(set) var values: [RuleValue] = []

    var count: Int { times.count }

    @inline(__always) func has(_ position: Int, _ bit: WindowBit) -> Bool {
        bits[position &* bit.words &+ bit.word] & bit.mask != 0
    }

    @inline(__always) func value(_ position: Int, slot: Int, of layout: WindowLayout) -> RuleValue {
        slot < 0 ? .null : values[position &* layout.slots &+ slot]
    }

    @inline(__always) func precedes(_ time: EpochMillis, _ seq: Int64, _ position: Int) -> Bool {
        time < times[position] || (time == times[position] && seq < seqs[position])
    }

    /// Puts an event in its time place and returns its position.
    mutating func insert(time: EpochMillis, seq: Int64, bits eventBits: [UInt64], values eventValues: [RuleValue]) -> Int {
        var position = times.count
        while position > 0, precedes(time, seq, position - 1) { position -= 1 }
        if position == times.count {
            times.append(time)
            seqs.append(seq)
            bits.append(contentsOf: eventBits)
            values.append(contentsOf: eventValues)
        } else {
            times.insert(time, at: position)
            seqs.insert(seq, at: position)
            bits.insert(contentsOf: eventBits, at: position * eventBits.count)
            values.insert(contentsOf: eventValues, at: position * eventValues.count)
        }
        return position
    }

    /// Forgets the first `n` events.
    mutating func dropFirst(_ n: Int, layout: WindowLayout) {
        guard n > 0 else { return }
        if n == times.count {
            let keep = times.capacity <= 8
            times.removeAll(keepingCapacity: keep)
            seqs.removeAll(keepingCapacity: keep)
            bits.removeAll(keepingCapacity: keep)
            values.removeAll(keepingCapacity: keep)
        } else {
            times.removeFirst(n)
            seqs.removeFirst(n)
            bits.removeFirst(n * layout.words)
            values.removeFirst(n * layout.slots)
        }
    }

    /// Clears a feature's bit on every event before `position`.
    mutating func clear(_ bit: WindowBit, before position: Int) {
        for i in 0..<min(position, times.count) { bits[i * bit.words + bit.word] &= ~bit.mask }
    }

    /// Forgets the events no feature counts (all bits clear); returns where each position went: for every
    /// old position (and the end), the number of events kept before it.
    mutating func removeUncounted(layout: WindowLayout) -> [Int32] {
        var moved = [Int32](repeating: 0, count: times.count + 1)
        var kept = 0
        for i in 0..<times.count {
            moved[i] = Int32(kept)
            let words = bits[(i * layout.words)..<((i + 1) * layout.words)]
            guard words.contains(where: { $0 != 0 }) else { continue }
            if kept != i {
                times[kept] = times[i]
                seqs[kept] = seqs[i]
                for w in 0..<layout.words { bits[kept * layout.words + w] = bits[i * layout.words + w] }
                for v in 0..<layout.slots { values[kept * layout.slots + v] = values[i * layout.slots + v] }
            }
            kept += 1
        }
        moved[times.count] = Int32(kept)
        times.removeLast(times.count - kept)
        seqs.removeLast(seqs.count - kept)
        bits.removeLast(bits.count - kept * layout.words)
        values.removeLast(values.count - kept * layout.slots)
        return moved
    }

    /// Both profiles' events, in time order; events no feature counts any more are left out.
    static func merged(_ a: ProfileEvents, _ b: ProfileEvents, layout: WindowLayout) -> ProfileEvents {
        var out = ProfileEvents()
        var i = 0, j = 0
        func take(_ side: ProfileEvents, _ k: Int) {
            let words = side.bits[(k * layout.words)..<((k + 1) * layout.words)]
            guard words.contains(where: { $0 != 0 }) else { return }
            out.times.append(side.times[k])
            out.seqs.append(side.seqs[k])
            out.bits.append(contentsOf: words)
            out.values.append(contentsOf: side.values[(k * layout.slots)..<((k + 1) * layout.slots)])
        }
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && !a.precedes(b.times[j], b.seqs[j], i)) {
                take(a, i)
                i += 1
            } else {
                take(b, j)
                j += 1
            }
        }
        return out
    }
}

/// Where a windowed feature's bit sits in an event's words.
struct WindowBit {
    let words: Int
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
    /// Per feature: the slot of the value it reads and of its `per` key (-1: none).
    let valueSlots: [Int]
    let keySlots: [Int]

    init(features: [FeatureSpec]) {
        var bitCount = 0
        var paths: [[String]: Int] = [:]
        var valueSlots = [Int](repeating: -1, count: features.count)
        var keySlots = [Int](repeating: -1, count: features.count)
        var bitIndex = [Int?](repeating: nil, count: features.count)
        func slot(_ path: [String]) -> Int {
            if let s = paths[path] { return s }
            paths[path] = paths.count
            return paths.count - 1
        }
        for (index, spec) in features.enumerated() where spec.usesProfileEvents {
            bitIndex[index] = bitCount
            bitCount += 1
            if !spec.property.isEmpty { valueSlots[index] = slot(spec.property) }
            if let per = spec.per { keySlots[index] = slot(per) }
        }
        let words = (bitCount + 63) / 64
        self.words = words
        slots = paths.count
        bits = bitIndex.map { $0.map { WindowBit(words: words, word: $0 / 64, mask: 1 << UInt64($0 % 64)) } }
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

/// What a windowed feature keeps of a profile: running figures over the events inside its window, and
/// cursors into the profile's events.
struct WindowSummary {
    /// The first event that has not left the window (events before it that the feature did not count may
    /// have been skipped: it rests on a counted event or on the end).
    var exit: Int32 = 0
    /// Range windows: the first event that has not entered the window yet.
    var enter: Int32 = 0
    var count: Int32 = 0
    /// How many counted events carry a number.
    var numbers: Int32 = 0
    /// sessions: gaps of over 30 minutes between consecutive counted events.
    var breaks: Int32 = 0
    /// The sum of the numbers; for min / max, the smallest or largest of them.
    var sum: Double = 0
    /// distinct / top: occurrences of each value; count per / sum per: the figure of each group.
    var tally: [RuleValue: Double] = [:]

    /// min / max (which keep no session gaps): the extreme left the window and must be found again.
    var extremeIsStale: Bool {
        get { breaks != 0 }
        set { breaks = newValue ? 1 : 0 }
    }
}
