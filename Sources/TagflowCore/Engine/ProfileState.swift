import CPrefetch

/// A profile's features and tags as the engine keeps them: its features in a small array searched in order
/// (a profile touches few of them), its tags ranked by a bitmask (``TagSlots``). It lives inline in the
/// engine's ``ProfileTable``
/// (no object of its own: 96 bytes, and one memory load less each time a profile is visited) and is
/// reached through a ``ProfileRef``.
struct ProfileState: ~Copyable {
    /// A feature this profile has state for, and that state (the index fills the state's padding: 32 bytes).
    struct FeatureSlot {
        var state: FeatureState?
        var index: Int32

        /// Where in a slot's memory the storage address of a sequence's steps or a tally is: the state's
        /// payload starts the slot, and an ``EntryWindow``'s or a ``Tally``'s first stored property is that
        /// address (checked by ``InnerArrays``).
        static var storageOffset: Int { MemoryLayout<FeatureSlot>.offset(of: \FeatureSlot.state)! }
    }

    private(set) var featureSlots = SmallBuffer<FeatureSlot>()
    /// Some feature's state may have gone (its slot is nil): ``dropEmptyFeatures()`` has work to do.
    private var hasEmptyFeatures = false
    /// An event came, a window summary moved (slid, counted an event), or a window counted afresh found
    /// events before the first it counts, since the last compaction: some summaries may be short, some events done with.
    /// Otherwise compaction need not look.
    var windowsMoved = false
    /// The arrays gave back their room for growth and no event came since.
    var isShrunk = false
    /// False once the profile was merged into another: its slot stays, empty.
    var isLive = true
    /// How many shared events were left after the last thorough compaction.
    var eventsKept: Int32 = 0
    /// The tags the profile has or that time can change (one run of words: a pass reads and writes both). A
    /// tag the profile does not have keeps a slot only while time can give it the tag (a range window).
    private(set) var tagSlots = TagSlots()
    /// The events the windowed features count, and the summaries of those whose windows count many (each
    /// names its feature).
    var events: ProfileEvents
    var windows = SmallBuffer<WindowSummary>()
    /// The earliest moment time alone can change one of its tags (`.max`: none). The timer queue holds it
    /// too, brought up to date once at the end of each visit; kept here so that firing reads no other memory.
    var due: EpochMillis = .max

    /// Whose state this is (kept here, not in an array beside: reading it would be a cache miss of its own).
    let id: ProfileID

    init(_ id: ProfileID, layout: WindowLayout) {
        self.id = id
        events = ProfileEvents(layout: layout)
    }

    /// Starts loading the starts of its arrays into the cache, all at once: a visit then waits for one
    /// memory load where it waited for four in turn.
    @inline(__always)
    func prefetchArrays() {
        tagSlots.prefetch()
        featureSlots.prefetch()
        windows.prefetch()
        events.prefetch()
    }

    /// Starts loading the arrays its window summaries and feature states keep of their own (tallies, a
    /// sequence's steps); its own arrays must have arrived (``prefetchArrays()`` a little before). Only
    /// where ``InnerArrays/layoutHolds``.
    func prefetchInnerArrays() {
        windows.forEachAddress { summary in
            guard summary.assumingMemoryBound(to: WindowSummary.self).pointee.keepsTallyStorage else { return }
            tagflow_prefetch(summary.load(fromByteOffset: WindowSummary.tallyStorageOffset, as: UnsafeRawPointer?.self))
        }
        featureSlots.forEachAddress { slot in
            switch slot.assumingMemoryBound(to: FeatureSlot.self).pointee.state {
            case .entries?, .tally?:
                tagflow_prefetch(slot.load(fromByteOffset: FeatureSlot.storageOffset, as: UnsafeRawPointer?.self))
            case .running?, .extreme?, nil: break
            }
        }
    }

    var earliestDue: EpochMillis {
        var earliest = EpochMillis.max
        for i in 0..<tagSlots.count { earliest = min(earliest, tagSlots.due(at: i)) }
        return earliest
    }

    /// Marks the tags due at `moment`.
    func markDue(at moment: EpochMillis, in pending: inout PendingTags) {
        tagSlots.forEachTag { tag, i in
            if tagSlots.due(at: i) <= moment { pending.mark(tag) }
        }
    }

    /// The tags the profile has, with the moment each value began.
    func tags(in table: ValueTable) -> [(tag: Int32, value: RuleValue, since: EpochMillis)] {
        var out: [(tag: Int32, value: RuleValue, since: EpochMillis)] = []
        tagSlots.forEachTag { tag, i in
            let slot = tagSlots[i]
            if slot.value != .null { out.append((Int32(tag), table.value(slot.value), slot.since)) }
        }
        return out
    }

    /// Keeps a windowed feature's summary (its window counts many events); its place among the summaries.
    mutating func keepWindow(_ summary: consuming WindowSummary) -> Int {
        windows.reserveSlowly()
        windows.append(summary)
        return windows.count - 1
    }

    /// Where a windowed feature's summary is, when the profile has one.
    func windowIndex(of feature: Int32) -> Int? {
        for i in windows.indices where windows[i].feature == feature { return i }
        return nil
    }

    var features: [(index: Int32, state: FeatureState?)] {
        featureSlots.array.map { ($0.index, $0.state) }
    }

    var featureSpare: Int { featureSlots.capacity - featureSlots.count }

    /// Where a feature's state is, when the profile has a slot for it (reads only the indices).
    private func featureSlot(of index: Int32) -> Int? {
        for i in featureSlots.indices where featureSlots[i].index == index { return i }
        return nil
    }

    func feature(_ index: Int32) -> FeatureState? {
        featureSlot(of: index).flatMap { featureSlots[$0].state }
    }

    /// Runs `body` on a feature's state in place (no copy of its storage). A feature the profile has no
    /// state for gets a slot only when `creating`; otherwise `body` sees nil and what it leaves is dropped.
    mutating func withFeature<Result>(_ index: Int32, creating: Bool, _ body: (inout FeatureState?) -> Result) -> Result {
        if let i = featureSlot(of: index) {
            let result = body(&featureSlots[i].state)
            if case .none = featureSlots[i].state { hasEmptyFeatures = true }
            return result
        }
        guard creating else {
            var absent: FeatureState?
            return body(&absent)
        }
        featureSlots.reserveSlowly()
        featureSlots.append(FeatureSlot(state: nil, index: index))
        let result = body(&featureSlots[featureSlots.count - 1].state)
        if case .none = featureSlots[featureSlots.count - 1].state { hasEmptyFeatures = true }
        return result
    }

    /// Forgets the features whose state has gone (a latest event that left its window).
    mutating func dropEmptyFeatures() {
        guard hasEmptyFeatures else { return }
        hasEmptyFeatures = false
        featureSlots.removeAll { if case .none = $0.state { true } else { false } }
        if isShrunk { featureSlots.shrinkToFit() } else { featureSlots.shrinkIfSparse() }
    }

    mutating func setFeature(_ index: Int32, _ state: FeatureState?) {
        if let i = featureSlot(of: index) {
            featureSlots[i].state = state
            if state == nil { hasEmptyFeatures = true }
        } else if state != nil {
            featureSlots.reserveSlowly()
            featureSlots.append(FeatureSlot(state: state, index: index))
        }
    }

    /// Where the profile keeps the tag, when it keeps a slot for it (has it, or time can change it).
    private func tagSlot(of index: Int32) -> Int? { tagSlots.index(of: Int(index)) }

    /// Whether the profile keeps a slot for the tag.
    func hasTagSlot(_ index: Int32) -> Bool { tagSlots.contains(Int(index)) }

    /// Whether the profile has the tag (some value).
    func hasTag(_ index: Int32) -> Bool { tagSlot(of: index).map { tagSlots[$0].value != .null } ?? false }

    func tagValue(_ index: Int32, in table: ValueTable) -> RuleValue? {
        tagState(index, in: table)?.value
    }

    /// The tag's value and since when it has had it, when the profile has the tag.
    func tagState(_ index: Int32, in table: ValueTable) -> (value: RuleValue, since: EpochMillis)? {
        guard let i = tagSlot(of: index), tagSlots[i].value != .null else { return nil }
        return (table.value(tagSlots[i].value), tagSlots[i].since)
    }

    /// Gives a tag its value (packed; `.null`: the profile does not have it) at `moment` (the moment it began,
    /// when it changed) and, when `due` is given, the moment time alone can next change it. Returns whether
    /// the value changed, and the old one.
    mutating func setTag(_ index: Int32, _ packed: PackedValue, at moment: EpochMillis, due: EpochMillis? = nil)
        -> (changed: Bool, old: PackedValue) {
        guard let i = tagSlot(of: index) else {
            let due = due ?? .max
            if packed != .null || due != .max {
                tagSlots.insert(Int(index), TagSlots.Slot(value: packed, since: moment, due: due))
            }
            return (packed != .null, .null)
        }
        var slot = tagSlots[i]
        let old = slot.value
        let changed = old != packed
        if changed {
            slot.value = packed
            slot.since = moment
        }
        if let due { slot.due = due }
        if slot.value == .null, slot.due == .max {
            tagSlots.remove(Int(index), at: i)
            // An idle profile keeps no room: time takes its tags away one by one, and no event comes.
            if isShrunk { tagSlots.shrinkToFit() } else { tagSlots.shrinkIfSparse() }
        } else {
            tagSlots[i] = slot
        }
        return (changed, old)
    }

    /// Every packed value the profile holds: its tags', its events' and its tallies'.
    func forEachPackedValue(_ body: (PackedValue) -> Void) {
        for i in 0..<tagSlots.count { body(tagSlots[i].value) }
        events.forEachValue(body)
        windows.forEach { $0.forEachTallyKey(body) }
        featureSlots.forEach { slot in
            switch slot.state {
            case .tally(let tally)?: tally.forEachKey(body)
            case .extreme(let kept)?: body(kept.value)
            default: break
            }
        }
    }

    /// Gives back the room its arrays keep for growth.
    mutating func shrinkToFit() {
        tagSlots.shrinkToFit()
        featureSlots.shrinkToFit()
        windows.shrinkToFit()
        events.shrinkToFit()
    }

    /// Dates a tag's current value from `since`.
    mutating func restoreSince(_ since: EpochMillis, of index: Int32) {
        if let i = tagSlot(of: index) { tagSlots[i].since = since }
    }
}

/// Where a profile's state is. Valid while the engine holds the profile: the table never moves a profile.
typealias ProfileRef = UnsafeMutablePointer<ProfileState>

/// The engine's profiles by slot, in chunks of 65,536 that never move: a ``ProfileRef`` stays valid while
/// profiles are added (and the table never copies all of them to grow, which would briefly hold two).
struct ProfileTable: ~Copyable {
    /// 65,536 profiles of 96 bytes: three 2 MB pages (profiles are visited at random; see ``BlockPool``).
    private static let chunkShift = 16
    private static let chunkSize = 1 << chunkShift
    private static let chunkBytes = chunkSize * MemoryLayout<ProfileState>.stride
    private var chunks: [ProfileRef] = []
    /// How many slots, live or not.
    private(set) var count = 0

    init() {}

    deinit {
        for (n, chunk) in chunks.enumerated() {
            chunk.deinitialize(count: min(Self.chunkSize, count - n * Self.chunkSize))
            BlockPool.deallocateLarge(chunk, bytes: Self.chunkBytes)
        }
    }

    /// The live profile in `slot`, or nil when it was removed.
    subscript(slot: Int32) -> ProfileRef? {
        let state = at(Int(slot))
        return state.pointee.isLive ? state : nil
    }

    @inline(__always)
    private func at(_ slot: Int) -> ProfileRef {
        precondition(slot >= 0 && slot < count, "ProfileTable slot out of range")
        return chunks[slot &>> Self.chunkShift] + (slot & (Self.chunkSize - 1))
    }

    /// Adds a profile in the next slot; its slot.
    mutating func append(_ state: consuming ProfileState) -> Int32 {
        if count == chunks.count * Self.chunkSize {
            chunks.append(BlockPool.allocateLarge(bytes: Self.chunkBytes).bindMemory(to: ProfileState.self, capacity: Self.chunkSize))
        }
        (chunks[count &>> Self.chunkShift] + (count & (Self.chunkSize - 1))).initialize(to: state)
        count += 1
        return Int32(count - 1)
    }

    /// Empties a slot for good (its profile merged into another); its memory is given back.
    mutating func remove(_ slot: Int32, layout: WindowLayout) {
        let state = at(Int(slot))
        state.pointee = ProfileState(state.pointee.id, layout: layout)
        state.pointee.isLive = false
    }

    /// Starts loading a profile's state into the cache (its 96 bytes span two lines at most).
    @inline(__always)
    func prefetch(_ slot: Int32) {
        let state = UnsafeRawPointer(at(Int(slot)))
        tagflow_prefetch(state)
        tagflow_prefetch(state + MemoryLayout<ProfileState>.stride - 1)
    }

    /// Each live profile, in slot order.
    func forEach(_ body: (ProfileRef) -> Void) {
        for slot in 0..<count {
            let state = at(slot)
            if state.pointee.isLive { body(state) }
        }
    }
}

/// The arrays a profile's summaries keep of their own — a window's tally, a sequence's steps — are read at
/// random like the rest of the profile, and their first read was a miss at every visit. Asking for them a
/// visit ahead means reading their addresses without copying the summaries (a copy counts a reference on the
/// array: a read of the very memory being asked for). The addresses are read from the summaries' memory, at
/// places Swift's layout of these types puts them; this checks once, on real values, that it does.
/// Were it ever wrong, only the prefetching would stop: nothing reads what a prefetch brings.
enum InnerArrays {
    static let layoutHolds: Bool = {
        let keys = [PackedValue(number: 1), PackedValue(number: 2), PackedValue(number: 3)]
        var tally = Tally()
        for key in keys { tally.add(1, to: key) }
        var window = EntryWindow(countsSessions: false)
        window.insert(FeatureEntry(timestamp: 1, seq: 1, value: .null, key: .number(0)))
        let summary = WindowSummary.withTally(keys)
        return summary.keepsTallyStorage
            && address(at: WindowSummary.tallyStorageOffset, in: summary) == summary.tally.storageAddress
            && address(at: ProfileState.FeatureSlot.storageOffset, in: ProfileState.FeatureSlot(state: .entries(window), index: 7))
                == window.storageAddress
            && address(at: ProfileState.FeatureSlot.storageOffset, in: ProfileState.FeatureSlot(state: .tally(tally), index: 7))
                == tally.storageAddress
    }()

    /// The address stored at `offset` in `value`'s memory.
    private static func address<Value>(at offset: Int, in value: Value) -> UnsafeRawPointer {
        var value = value
        return withUnsafeBytes(of: &value) { $0.load(fromByteOffset: offset, as: UnsafeRawPointer.self) }
    }
}
