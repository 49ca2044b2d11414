/// Keeps every tag of every profile exact at every moment.
///
/// Events fold into per-profile features shared between tags; only the tags whose features changed are
/// re-evaluated. Each profile has one due moment, the first at which time alone could change one of its
/// tags (a window sliding, a day ending, a days-since threshold); ``advance(to:)`` fires due profiles at
/// exactly that moment. Not thread-safe: one owner drives it.
public final class TagEngine {
    public let tagSet: TagSet
    public let calendar: WorkspaceCalendar
    /// The engine's clock: the latest moment it has been told about. It never goes back.
    public private(set) var now: EpochMillis

    private let logic: [FeatureLogic]
    let layout: WindowLayout
    private let dispatch: EventDispatch
    // The parts of the tag set the hot paths read, held directly (no copies of whole definitions).
    private let rules: [TagRule]
    private let tagIDs: [String]
    private let isBoolean: [Bool]
    let patterns: [RulePattern]
    private var slots = ProfileSlots()
    private var profiles: [ProfileState?] = []
    private var profileIDs: [ProfileID] = []
    private var timers = TimerHeap()
    private var isTimeDependent: [Bool]
    /// Per feature: a `between … ago` window, which events enter as well as leave.
    private let isRangeWindow: [Bool]
    /// The tag set's tags by feature, and the tags referring to each tag.
    private let tagsByFeature: FlatLists
    private let referringTags: FlatLists

    /// How many tag evaluations and timer firings the engine has done (for benchmarks).
    public private(set) var tagEvaluations = 0
    public private(set) var timerFirings = 0

    // Scratch space reused across passes.
    private var featureCache: [RuleValue?]
    private var featureUntil: [EpochMillis]
    private var cachedFeatures: [Int] = []
    private var pending: PendingTags
    /// The tags a profile's first event must evaluate besides those its features touch: the tags an empty
    /// profile has (`not exists(...)`, an `else` case) and every tag referring to those. Every other tag
    /// of an empty profile has no value, as it had before the profile existed.
    private var newProfileTags: [Int] = []
    private var touched: [Int] = []
    private var counting: [Int] = []
    private var eventBits: [UInt64]
    private var eventValues: [PackedValue]
    /// The text (and other non-numbers) of the values profiles keep, each once.
    let values: ValueTable

    public convenience init(tagSet: TagSet, calendar: WorkspaceCalendar = .shanghai, now: EpochMillis = .min) {
        self.init(tagSet: tagSet, calendar: calendar, now: now, valuesSweptFrom: 4096)
    }

    /// `valuesSweptFrom`: the number of values the table must hold before it is swept (tests sweep often).
    init(tagSet: TagSet, calendar: WorkspaceCalendar, now: EpochMillis, valuesSweptFrom: Int) {
        self.tagSet = tagSet
        self.calendar = calendar
        self.now = now
        let layout = WindowLayout(features: tagSet.features)
        self.layout = layout
        let values = ValueTable(smallest: valuesSweptFrom)
        self.values = values
        logic = tagSet.features.enumerated().map {
            FeatureLogic(spec: $1, index: $0, layout: layout, table: values, calendar: calendar, patterns: tagSet.patterns)
        }
        tagsByFeature = FlatLists(tagSet.tagsByFeature)
        referringTags = FlatLists(tagSet.referringTags)
        isRangeWindow = tagSet.features.map { if case .range = $0.window { true } else { false } }
        eventBits = Array(repeating: 0, count: layout.words)
        eventValues = Array(repeating: .null, count: layout.slots)
        dispatch = EventDispatch(features: tagSet.features, patterns: tagSet.patterns)
        rules = tagSet.tags.map(\.rule)
        tagIDs = tagSet.tags.map(\.id)
        isBoolean = tagSet.tags.map { if case .boolean = $0.rule { true } else { false } }
        patterns = tagSet.patterns
        featureCache = Array(repeating: nil, count: tagSet.features.count)
        featureUntil = Array(repeating: .max, count: tagSet.features.count)
        pending = PendingTags(tagCount: tagSet.tags.count)
        isTimeDependent = Array(repeating: false, count: tagSet.tags.count)
        for index in tagSet.timeDependentTags { isTimeDependent[index] = true }
        newProfileTags = tagsOfEmptyProfile()
    }

    /// The tags an empty profile has, or whose value on one could change with time, and the tags referring
    /// to those (they were computed with those values).
    private func tagsOfEmptyProfile() -> [Int] {
        let empty = ProfileState(layout: layout)
        var tags = Set<Int>()
        for index in tagSet.tags.indices {
            var early = ProfileEvaluation(engine: self, state: empty, time: 0)
            var late = ProfileEvaluation(engine: self, state: empty, time: 4_000_000_000_000)
            let value = rules[index].value(in: &early)
            clearFeatureCache()
            let lateValue = rules[index].value(in: &late)
            clearFeatureCache()
            if value != nil || value != lateValue || early.until != .max || late.until != .max {
                tags.insert(index)
                tags.formUnion(tagSet.dependentTags[index])
            }
            _ = empty.setTag(Int32(index), value, at: 0, in: values)
        }
        return tags.sorted()
    }

    /// How many profiles the engine holds.
    public var profileCount: Int { slots.count }

    /// The earliest moment a tag of some profile can change with time alone.
    public var nextDue: EpochMillis? { timers.first?.due }

    // MARK: - Inputs

    /// Folds one event of `profile` in, at the engine's moment `now`, and reports the tags it changed.
    public func apply(_ event: RuleEvent, to profile: ProfileID, now: EpochMillis, changes: inout [TagChange]) {
        advanceClock(to: now)
        let (slot, isNew) = slot(for: profile)
        guard let state = profiles[Int(slot)] else { return }
        fireDue(state, slot: slot, upTo: self.now, changes: &changes)
        state.isShrunk = false

        touched.removeAll(keepingCapacity: true)
        counting.removeAll(keepingCapacity: true)
        dispatch.forEachMatch(of: event) { index in
            unowned(unsafe) let logic = logic[index]  // the engine holds it: no reference counting
            if let bit = logic.bit {
                guard let entry = logic.contribution(of: event, now: now) else { return }
                eventBits[bit.word] |= bit.mask
                if logic.valueSlot >= 0 { eventValues[logic.valueSlot] = values.pack(entry.value) }
                if logic.keySlot >= 0 { eventValues[logic.keySlot] = values.pack(entry.key) }
                counting.append(index)
            } else if update(state, feature: index, with: event) {
                touched.append(index)
            }
        }
        if !counting.isEmpty {
            record(event, in: state)
            touched.append(contentsOf: counting)
        }
        for feature in touched {
            tagsByFeature.forEach(in: feature) { pending.mark($0) }
        }
        if isNew {
            for tag in newProfileTags { pending.mark(tag) }
        }
        guard !pending.isEmpty else { return }
        reevaluate(state, slot: slot, at: self.now, cause: .event(seq: event.seq), changes: &changes)
        schedule(state, slot: slot)
        compact(state)
        sweepValuesIfDue()
    }

    /// Frees the values no profile holds any more, once the table has doubled since it was last swept.
    private func sweepValuesIfDue() {
        guard values.needsSweep else { return }
        values.sweep { mark in
            for case let state? in profiles { state.forEachPackedValue(mark) }
        }
    }

    /// Merges profile `source` into `target`: their features combine, `source` disappears (losing its
    /// tags), and every tag of `target` is re-evaluated.
    public func merge(_ source: ProfileID, into target: ProfileID, now: EpochMillis, changes: inout [TagChange]) {
        advanceClock(to: now)
        guard source != target, let sourceSlot = slots[source], let sourceState = profiles[Int(sourceSlot)] else { return }
        fireDue(sourceState, slot: sourceSlot, upTo: self.now, changes: &changes)
        let (targetSlot, _) = slot(for: target)
        guard let targetState = profiles[Int(targetSlot)] else { return }
        fireDue(targetState, slot: targetSlot, upTo: self.now, changes: &changes)
        targetState.isShrunk = false

        let cause = TagChangeCause.merge(from: source, into: target)
        for slot in sourceState.tags(in: values) {
            changes.append(TagChange(
                profile: source, tag: tagSet.tags[Int(slot.tag)].id, old: slot.value, new: nil, at: self.now, cause: cause))
        }
        for (index, state) in sourceState.features {
            let merged = logic[Int(index)].merged(targetState.feature(index), state)
            targetState.setFeature(index, merged)
        }
        mergeEvents(of: sourceState, into: targetState)
        profiles[Int(sourceSlot)] = nil
        slots[source] = nil
        timers.set(sourceSlot, .max)
        pending.markAll()
        reevaluate(targetState, slot: targetSlot, at: self.now, cause: cause, changes: &changes)
        schedule(targetState, slot: targetSlot)
        sweepValuesIfDue()
    }

    /// Combines the shared events of two profiles and counts them afresh for the windowed features.
    private func mergeEvents(of source: ProfileState, into target: ProfileState) {
        guard !source.windows.isEmpty else { return }
        for state in [source, target] {
            for i in state.windows.indices {
                state.events.clear(logic[Int(state.windows[i].feature)].bit!, before: Int(state.windows[i].exit))
            }
        }
        target.events = ProfileEvents.merged(target.events, source.events)
        target.windowsMoved = true
        for i in source.windows.indices { _ = target.windowSlot(source.windows[i].feature) }
        for i in target.windows.indices {
            logic[Int(target.windows[i].feature)].recount(&target.windows[i], events: target.events)
        }
    }

    /// Moves the clock to `moment`, firing every profile whose tags time changes on the way, each at the
    /// exact moment it was due.
    public func advance(to moment: EpochMillis, changes: inout [TagChange]) {
        advanceClock(to: moment)
        while let top = timers.first, top.due <= self.now {
            guard let state = profiles[Int(top.slot)] else {
                timers.set(top.slot, .max)
                continue
            }
            fireDue(state, slot: top.slot, upTo: self.now, changes: &changes)
        }
    }

    // MARK: - Reading

    /// The tags `profile` has now.
    public func tags(of profile: ProfileID) -> [TagState] {
        guard let slot = slots[profile], let state = profiles[Int(slot)] else { return [] }
        return state.tags(in: values).map { TagState(tag: tagSet.tags[Int($0.tag)].id, value: $0.value, since: $0.since) }
    }

    /// The value of one tag of `profile`, or nil when it does not have it.
    public func value(of tag: String, for profile: ProfileID) -> TagState? {
        tags(of: profile).first { $0.tag == tag }
    }

    /// Keeps the moment a tag value began when the engine was rebuilt from the log (a replay dates
    /// values by when it saw them, not by when they really began). Ignored when the values differ.
    public func restoreSince(_ since: EpochMillis, of tag: String, for profile: ProfileID, value: RuleValue) {
        guard let index = tagSet.index(of: tag), let state = profileState(profile),
              state.tagValue(Int32(index), in: values) == value else { return }
        state.restoreSince(since, of: Int32(index))
    }

    func profileState(_ profile: ProfileID) -> ProfileState? {
        slots[profile].flatMap { profiles[Int($0)] }
    }

    /// The log sequence numbers of the events a feature currently counts.
    func eventsBehind(feature index: Int, of state: ProfileState, at moment: EpochMillis) -> [Int64] {
        var until = EpochMillis.max
        if logic[index].bit != nil {
            guard let i = state.windowIndex(of: Int32(index)) else { return [] }
            state.windowsMoved = true
            _ = logic[index].windowValue(&state.windows[i], events: state.events, at: moment, until: &until)
            return Array(logic[index].countedSeqs(state.windows[i], events: state.events).prefix(50))
        }
        var scratch = state.feature(Int32(index))
        _ = logic[index].value(&scratch, at: moment, until: &until)
        switch scratch {
        case .entries(let window): return window.window.prefix(50).map { window.seq($0) }
        case .extreme(let entry): return [entry.seq]
        default: return []
        }
    }

    /// Every profile the engine holds, in no particular order.
    public var profileIDsInEngine: [ProfileID] { slots.ids }

    // MARK: - Passes

    private func advanceClock(to moment: EpochMillis) {
        if moment > now { now = moment }
    }

    private func slot(for profile: ProfileID) -> (Int32, Bool) {
        if let slot = slots[profile] { return (slot, false) }
        let slot = Int32(profiles.count)
        profiles.append(ProfileState(layout: layout))
        profileIDs.append(profile)
        slots[profile] = slot
        return (slot, true)
    }

    /// Keeps the event in the profile's shared events for the windowed features that count it (`counting`,
    /// with `eventBits` and `eventValues` filled in), and counts it.
    private func record(_ event: RuleEvent, in state: ProfileState) {
        state.windowsMoved = true
        let position = state.events.insert(time: event.timestamp, seq: event.seq, bits: eventBits, values: eventValues)
        for i in eventBits.indices { eventBits[i] = 0 }
        for i in eventValues.indices { eventValues[i] = .null }
        let bits = layout.bits
        for i in state.windows.indices {
            let feature = Int(state.windows[i].feature)
            let counted = state.events.has(position, bits[feature]!)
            state.windows[i].shift(insertedAt: position, counted: counted, isRange: isRangeWindow[feature])
        }
        for index in counting {
            let i = state.windowSlot(Int32(index))
            logic[index].added(&state.windows[i], at: position, events: state.events)
        }
    }

    /// Forgets the shared events every windowed feature of the profile is done with.
    private func compact(_ state: ProfileState) {
        state.dropEmptyFeatures()
        guard state.windowsMoved else { return }
        state.windowsMoved = false
        dropEmptyWindows(state)
        guard state.events.count > 0 else { return }
        guard !state.windows.isEmpty else {
            state.events.dropFirst(state.events.count)  // no feature counts any of them any more
            return
        }
        var done = Int32.max
        for i in state.windows.indices { done = min(done, state.windows[i].exit) }
        let n = Int(done)
        if n > 0, n == state.events.count || n * 2 >= state.events.count {
            state.events.dropFirst(n)
            for i in state.windows.indices {
                state.windows[i].exit -= done
                state.windows[i].enter = max(0, state.windows[i].enter - done)  // only range windows move it
            }
        }
        // A long window (60 days of purchases) holds the front back: when the events have doubled since,
        // forget every event that no feature counts any more, wherever it is.
        guard state.events.count >= 2 * Int(state.eventsKept) + 16 else { return }
        for i in state.windows.indices {
            state.events.clear(logic[Int(state.windows[i].feature)].bit!, before: Int(state.windows[i].exit))
        }
        let moved = state.events.removeUncounted()
        for i in state.windows.indices {
            state.windows[i].exit = moved[Int(state.windows[i].exit)]
            state.windows[i].enter = moved[Int(state.windows[i].enter)]
        }
        state.eventsKept = Int32(state.events.count)
    }

    /// Forgets the summaries of windows that hold no event and have none to let in: a summary made afresh
    /// at the feature's next event is the same, once the feature's marks on the events that left are gone.
    /// (Most profiles are idle: their windows empty one after the other as time passes.)
    private func dropEmptyWindows(_ state: ProfileState) {
        var i = 0
        var dropped = false
        while i < state.windows.count {
            guard state.windows[i].count == 0, case let logic = logic[Int(state.windows[i].feature)],
                  logic.isEmpty(state.windows[i], events: state.events) else {
                i += 1
                continue
            }
            state.events.clear(logic.bit!, before: state.events.count)
            state.windows.swapAt(i, state.windows.count - 1)
            state.windows.removeLast()
            dropped = true
        }
        if dropped { state.windows.shrinkToFit() }  // the profile is likely idle from now on
    }

    private func update(_ state: ProfileState, feature index: Int, with event: RuleEvent) -> Bool {
        let logic = logic[index]
        if logic.isSequence {
            guard let entries = logic.sequenceContributions(of: event, now: now) else { return false }
            return state.withFeature(Int32(index), creating: true) { feature in
                entries.reduce(false) { logic.fold($1, into: &feature) || $0 }
            }
        }
        guard let entry = logic.contribution(of: event, now: now) else { return false }
        return state.withFeature(Int32(index), creating: true) { logic.fold(entry, into: &$0) }
    }

    /// Re-evaluates, at each due moment up to `moment`, the tags that were due then — and the tags that refer
    /// to those that changed.
    private func fireDue(_ state: ProfileState, slot: Int32, upTo moment: EpochMillis, changes: inout [TagChange]) {
        let fired = state.due <= moment
        while state.due <= moment {
            let at = state.due
            state.markDue(at: at, in: &pending)
            timerFirings += 1
            reevaluate(state, slot: slot, at: at, cause: .time, changes: &changes)
            schedule(state, slot: slot)
        }
        compact(state)
        // Time alone moved it and its latest event is a day old: likely idle for a while, its arrays need no
        // room to grow. (Shrinking at every firing cost 10 % of the speed: arrays grew back at the next event.)
        if fired, !state.isShrunk,
           state.events.count == 0 || moment - state.events.time(state.events.count - 1) >= Self.idleAfter {
            state.shrinkToFit()
            state.isShrunk = true
        }
    }

    /// How long after its latest event a profile counts as idle.
    static let idleAfter: EpochMillis = 86_400_000

    /// Puts the profile on the timer heap at its earliest tag due moment, when that moved.
    private func schedule(_ state: ProfileState, slot: Int32) {
        let due = state.earliestDue
        guard due != state.due else { return }
        state.due = due
        timers.set(slot, due)
    }

    /// Evaluates the pending tags (in dependency order) at `moment`, records what changed and when each
    /// time-dependent one can next change. Tags referring to a tag that changed are evaluated too.
    private func reevaluate(
        _ state: ProfileState, slot: Int32, at moment: EpochMillis, cause: TagChangeCause, changes: inout [TagChange]
    ) {
        defer { clearFeatureCache() }
        let profile = profileIDs[Int(slot)]
        while let index = pending.next() {
            tagEvaluations += 1
            var context = ProfileEvaluation(engine: self, state: state, time: moment)
            let value = rules[index].value(in: &context)
            let (changed, old) = state.setTag(
                Int32(index), value, at: moment, due: isTimeDependent[index] ? context.until : nil, in: values)
            guard changed else { continue }
            changes.append(TagChange(profile: profile, tag: tagIDs[index], old: old, new: value, at: moment, cause: cause))
            referringTags.forEach(in: index) { pending.mark($0) }
        }
    }

    /// Forgets the feature values read while evaluating one profile at one moment.
    private func clearFeatureCache() {
        for index in cachedFeatures { featureCache[index] = nil }
        cachedFeatures.removeAll(keepingCapacity: true)
    }

    func featureValue(_ index: Int, of state: ProfileState, at moment: EpochMillis, until: inout EpochMillis) -> RuleValue {
        if let cached = featureCache[index] {
            until = min(until, featureUntil[index])
            return cached
        }
        var featureDue = EpochMillis.max
        unowned(unsafe) let logic = logic[index]  // the engine holds it: no reference counting
        let value: RuleValue
        if logic.bit != nil {
            if let i = state.windowIndex(of: Int32(index)) {
                state.windowsMoved = true
                value = logic.windowValue(&state.windows[i], events: state.events, at: moment, until: &featureDue)
            } else {
                value = logic.function.map(logic.emptyValue) ?? .null
            }
        } else {
            value = state.withFeature(Int32(index), creating: false) {
                logic.value(&$0, at: moment, until: &featureDue)
            }
        }
        featureCache[index] = value
        featureUntil[index] = featureDue
        cachedFeatures.append(index)
        until = min(until, featureDue)
        return value
    }

    func momentBelow(_ threshold: Threshold, feature index: Int, of state: ProfileState, at moment: EpochMillis) -> EpochMillis? {
        guard logic[index].bit != nil else { return nil }  // all-time and one-event features: not thresholds time lowers
        guard let i = state.windowIndex(of: Int32(index)) else {
            return logic[index].windowMomentBelow(threshold, WindowSummary(), events: state.events, at: moment)
        }
        return logic[index].windowMomentBelow(threshold, state.windows[i], events: state.events, at: moment)
    }

    func tagReference(_ index: Int, of state: ProfileState) -> RuleValue {
        let value = state.tagValue(Int32(index), in: values)
        if isBoolean[index] { return .bool(value != nil) }
        return value ?? .null
    }
}

/// A profile's features and tags as the engine keeps them: small arrays searched in order, since a profile
/// touches few of the features and has few of the tags.
final class ProfileState {
    /// What the profile keeps of one tag: its value, and when time alone can next change it. A tag the
    /// profile does not have keeps a slot only while time can give it the tag (a range window).
    struct TagSlot {
        /// Packed (text in the engine's ``ValueTable``); null: the profile does not have the tag (a tag's
        /// value is never null). 32 bytes a slot.
        var value: PackedValue
        var since: EpochMillis
        /// `.max`: time alone cannot change it.
        var due: EpochMillis
        var tag: Int32
    }

    /// A feature this profile has state for, and that state (the index fills the state's padding: 32 bytes).
    struct FeatureSlot {
        var state: FeatureState?
        var index: Int32
    }

    private(set) var featureSlots = SmallBuffer<FeatureSlot>()
    /// Some feature's state may have gone (its slot is nil): ``dropEmptyFeatures()`` has work to do.
    private var hasEmptyFeatures = false
    /// A window summary has moved (slid, counted an event) since the last compaction: some may be empty,
    /// some events may be done with. Otherwise compaction need not read the summaries at all.
    var windowsMoved = false
    /// The arrays gave back their room for growth and no event came since.
    var isShrunk = false
    /// How many shared events were left after the last thorough compaction.
    var eventsKept: Int32 = 0
    /// The tags the profile has or that time can change (one array: a pass reads and writes both).
    private(set) var tagSlots = SmallBuffer<TagSlot>()
    /// The events the windowed features count, and those features' summaries (each names its feature).
    var events: ProfileEvents
    var windows = SmallBuffer<WindowSummary>()
    /// The moment the profile sits on the timer heap for (`.max`: not on it): the heap's, kept beside the
    /// profile so that firing it reads no other memory.
    var due: EpochMillis = .max

    init(layout: WindowLayout) {
        events = ProfileEvents(layout: layout)
    }

    var earliestDue: EpochMillis {
        var earliest = EpochMillis.max
        for i in tagSlots.indices { earliest = min(earliest, tagSlots[i].due) }
        return earliest
    }

    /// Marks the tags due at `moment`.
    func markDue(at moment: EpochMillis, in pending: inout PendingTags) {
        for i in tagSlots.indices where tagSlots[i].due <= moment { pending.mark(Int(tagSlots[i].tag)) }
    }

    /// The tags the profile has, with the moment each value began.
    func tags(in table: ValueTable) -> [(tag: Int32, value: RuleValue, since: EpochMillis)] {
        var out: [(tag: Int32, value: RuleValue, since: EpochMillis)] = []
        tagSlots.forEach { slot in
            if slot.value != .null { out.append((slot.tag, table.value(slot.value), slot.since)) }
        }
        return out
    }

    /// The slot of a windowed feature's summary, made when missing (its cursors at the first event: none
    /// before counts for it, and a range window has let none in).
    func windowSlot(_ index: Int32) -> Int {
        if let i = windowIndex(of: index) { return i }
        windows.reserveSlowly()
        windows.append(WindowSummary(feature: index))
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
    func withFeature<Result>(_ index: Int32, creating: Bool, _ body: (inout FeatureState?) -> Result) -> Result {
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
        return body(&featureSlots[featureSlots.count - 1].state)
    }

    /// Forgets the features whose state has gone (a latest event that left its window).
    func dropEmptyFeatures() {
        guard hasEmptyFeatures else { return }
        hasEmptyFeatures = false
        featureSlots.removeAll { if case .none = $0.state { true } else { false } }
        if isShrunk { featureSlots.shrinkToFit() } else { featureSlots.shrinkIfSparse() }
    }

    func setFeature(_ index: Int32, _ state: FeatureState?) {
        if let i = featureSlot(of: index) {
            featureSlots[i].state = state
            if state == nil { hasEmptyFeatures = true }
        } else if state != nil {
            featureSlots.reserveSlowly()
            featureSlots.append(FeatureSlot(state: state, index: index))
        }
    }

    func tagValue(_ index: Int32, in table: ValueTable) -> RuleValue? {
        for i in tagSlots.indices where tagSlots[i].tag == index {
            return tagSlots[i].value == .null ? nil : table.value(tagSlots[i].value)
        }
        return nil
    }

    /// Gives a tag its value at `moment` (the moment it began, when it changed) and, when `due` is given,
    /// the moment time alone can next change it. Returns whether the value changed, and the old one.
    func setTag(_ index: Int32, _ value: RuleValue?, at moment: EpochMillis, due: EpochMillis? = nil,
                in table: ValueTable) -> (changed: Bool, old: RuleValue?) {
        let packed = value.map(table.pack) ?? .null
        guard let i = tagSlots.firstIndex(where: { $0.tag == index }) else {
            let due = due ?? .max
            if packed != .null || due != .max {
                tagSlots.reserveSlowly()
                tagSlots.append(TagSlot(value: packed, since: moment, due: due, tag: index))
            }
            return (packed != .null, nil)
        }
        let old = tagSlots[i].value
        let changed = old != packed
        if changed {
            tagSlots[i].value = packed
            tagSlots[i].since = moment
        }
        if let due { tagSlots[i].due = due }
        if tagSlots[i].value == .null, tagSlots[i].due == .max {
            tagSlots.remove(at: i)
            // An idle profile keeps no room: time takes its tags away one by one, and no event comes.
            if isShrunk { tagSlots.shrinkToFit() } else { tagSlots.shrinkIfSparse() }
        }
        return (changed, changed && old != .null ? table.value(old) : nil)
    }

    /// Every packed value the profile holds: its tags', its events' and its tallies'.
    func forEachPackedValue(_ body: (PackedValue) -> Void) {
        tagSlots.forEach { body($0.value) }
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
    func shrinkToFit() {
        tagSlots.shrinkToFit()
        featureSlots.shrinkToFit()
        windows.shrinkToFit()
        events.shrinkToFit()
    }

    /// Dates a tag's current value from `since`.
    func restoreSince(_ since: EpochMillis, of index: Int32) {
        for i in tagSlots.indices where tagSlots[i].tag == index { tagSlots[i].since = since }
    }
}

/// A profile's features and tags at one moment, as a tag's rule reads them.
struct ProfileEvaluation: RuleContext {
    unowned(unsafe) let engine: TagEngine  // lives only inside an engine call
    let state: ProfileState
    let time: EpochMillis
    var until: EpochMillis = .max
    var patterns: [RulePattern] { engine.patterns }

    init(engine: TagEngine, state: ProfileState, time: EpochMillis) {
        self.engine = engine
        self.state = state
        self.time = time
    }

    func property(_ path: [String]) -> RuleValue { .null }

    mutating func feature(_ index: Int) -> RuleValue {
        engine.featureValue(index, of: state, at: time, until: &until)
    }

    func tag(_ index: Int) -> RuleValue { engine.tagReference(index, of: state) }

    mutating func momentBelow(_ threshold: Threshold, feature index: Int) -> EpochMillis? {
        engine.momentBelow(threshold, feature: index, of: state, at: time)
    }
}

extension TagRule {
    /// The tag's value for a profile: nil when the profile does not have the tag.
    func value<Context: RuleContext>(in context: inout Context) -> RuleValue? {
        switch self {
        case .boolean(let condition):
            return condition.evaluate(in: &context).isTrue ? .bool(true) : nil
        case .cases(let cases, let otherwise):
            for c in cases where c.condition.evaluate(in: &context).isTrue { return .string(c.value) }
            return otherwise.map { .string($0) }
        case .valued(let expression):
            let value = expression.evaluate(in: &context)
            return value.isNull ? nil : value
        }
    }
}

extension TagEngine {
    /// What the engine holds, counted: where its memory goes (for benchmarks).
    public var holdings: [String: Int] {
        var out: [String: Int] = ["profiles": profileCount]
        for case let state? in profiles {
            out["feature_slots", default: 0] += state.featureSlots.count
            out["tag_slots", default: 0] += state.tagSlots.count
            out["shared_events", default: 0] += state.events.count
            out["window_summaries", default: 0] += state.windows.count
            state.windows.forEach { window in
                if window.tallyCount > 0 { out["window_tallies", default: 0] += 1 }
                if window.singleKey != nil { out["window_tallies_of_one_value", default: 0] += 1 }
            }
            // Room the arrays have beyond what they hold (their growth), in elements.
            out["spare_shared_events", default: 0] += state.events.spareCapacity
            out["spare_window_summaries", default: 0] += state.windows.capacity - state.windows.count
            out["spare_tag_slots", default: 0] += state.tagSlots.capacity - state.tagSlots.count
            out["spare_feature_slots", default: 0] += state.featureSpare
            for (_, feature) in state.features {
                switch feature {
                case .entries(let w)?:
                    out["step_lists", default: 0] += 1
                    out["step_list_entries", default: 0] += w.count - w.head
                case .running?: out["running", default: 0] += 1
                case .extreme?: out["extremes", default: 0] += 1
                case .tally(let t)?:
                    out["tallies", default: 0] += 1
                    out["tally_keys", default: 0] += t.count
                case nil: out["empty", default: 0] += 1
                }
            }
        }
        return out
    }
}
