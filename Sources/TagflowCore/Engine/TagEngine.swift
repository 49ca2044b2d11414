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

    let logic: [FeatureLogic]
    /// The same, unretained: the hot paths reach a feature's logic through ``withLogic(_:_:)`` with no
    /// reference counting (a strong or even `unowned(unsafe)` local was retained around each call).
    private let logicRefs: [Unmanaged<FeatureLogic>]
    let layout: WindowLayout
    private let dispatch: EventDispatch
    // The parts of the tag set the hot paths read, held directly (no copies of whole definitions).
    private let rules: CompiledRules
    let tagIDs: [String]
    /// The same, as the changes the engine reports name their tags.
    private let tagNames: TagChanges.TagNames
    private let isBoolean: [Bool]
    let patterns: [RulePattern]
    private var slots = ProfileSlots()
    private var profiles = ProfileTable()
    private var timers = TimerQueue()
    private var isTimeDependent: [Bool]
    /// Per feature: a `between … ago` window, which events enter as well as leave.
    let isRangeWindow: [Bool]
    /// The tag set's tags by feature, and the tags referring to each tag.
    private let tagsByFeature: FlatLists
    private let referringTags: FlatLists
    private let gates: TagGates

    /// How many tag evaluations and timer firings the engine has done (for benchmarks).
    public private(set) var tagEvaluations = 0
    public private(set) var timerFirings = 0

    // Scratch space reused across passes.
    /// The feature values read in the current evaluation pass, one entry per feature: an entry holds while
    /// its pass number is ``cachePass`` (a new pass forgets them all by counting on, with nothing to clear).
    /// In memory of its own: read and written at every evaluation, with no array's checks.
    private let featureCache: UnsafeMutableBufferPointer<CachedFeature>
    private var cachePass: UInt32 = 1
    private var pending: PendingTags
    /// The tags a profile's first event must evaluate besides those its features touch: the tags an empty
    /// profile has (`not exists(...)`, an `else` case) and every tag referring to those. Every other tag
    /// of an empty profile has no value, as it had before the profile existed.
    private var newProfileTags: [Int] = []
    private var touched: [Int] = []
    var counting: [Int] = []
    /// The slots an ``advance(to:changes:)`` fires, in due order.
    private var dueSlots: [Int32] = []
    var eventBits: [UInt64]
    /// Where the arrays of summaries are, a visit ahead, can be read (``InnerArrays``).
    private let readsInnerArrayAddresses = InnerArrays.layoutHolds
    var eventValues: [PackedValue]
    /// The text (and other non-numbers) of the values profiles keep, each once.
    let values: ValueTable

    public convenience init(tagSet: TagSet, calendar: WorkspaceCalendar = .shanghai, now: EpochMillis = .min) {
        self.init(tagSet: tagSet, calendar: calendar, now: now, valuesSweptFrom: 4096)
    }

    /// `valuesSweptFrom`: the number of values the table must hold before it is swept; `summariesFrom`: the
    /// events a window counts before it keeps a summary (``FeatureLogic/summaryFrom``). Tests set both low.
    init(tagSet: TagSet, calendar: WorkspaceCalendar, now: EpochMillis, valuesSweptFrom: Int, summariesFrom: Int = 16) {
        self.tagSet = tagSet
        self.calendar = calendar
        self.now = now
        let layout = WindowLayout(features: tagSet.features)
        self.layout = layout
        let values = ValueTable(smallest: valuesSweptFrom)
        self.values = values
        logic = tagSet.features.enumerated().map {
            FeatureLogic(spec: $1, index: $0, layout: layout, table: values, calendar: calendar, patterns: tagSet.patterns,
                         summaryFrom: summariesFrom)
        }
        logicRefs = logic.map { Unmanaged.passUnretained($0) }
        tagsByFeature = FlatLists(tagSet.tagsByFeature)
        referringTags = FlatLists(tagSet.referringTags)
        gates = TagGates(tags: tagSet.tags, logic: logic)
        isRangeWindow = tagSet.features.map { if case .range = $0.window { true } else { false } }
        eventBits = Array(repeating: 0, count: layout.words)
        eventValues = Array(repeating: .null, count: layout.slots)
        dispatch = EventDispatch(features: tagSet.features, patterns: tagSet.patterns)
        var rules = CompiledRules(tagSet.tags.map(\.rule))
        rules.packCaseValues(in: values)
        self.rules = rules
        tagIDs = tagSet.tags.map(\.id)
        tagNames = TagChanges.TagNames(tagIDs)
        isBoolean = tagSet.tags.map { if case .boolean = $0.rule { true } else { false } }
        patterns = tagSet.patterns
        featureCache = .allocate(capacity: tagSet.features.count)
        _ = featureCache.initialize(from: repeatElement(CachedFeature(), count: tagSet.features.count))
        pending = PendingTags(tagCount: tagSet.tags.count)
        isTimeDependent = Array(repeating: false, count: tagSet.tags.count)
        for index in tagSet.timeDependentTags { isTimeDependent[index] = true }
        newProfileTags = tagsOfEmptyProfile()
    }

    deinit {
        featureCache.deinitialize()
        featureCache.deallocate()
    }

    /// The tags an empty profile has, or whose value on one could change with time, and the tags referring
    /// to those (they were computed with those values).
    private func tagsOfEmptyProfile() -> [Int] {
        let empty = ProfileRef.allocate(capacity: 1)
        empty.initialize(to: ProfileState(ProfileID(0), layout: layout))
        defer {
            empty.deinitialize(count: 1)
            empty.deallocate()
        }
        var tags = Set<Int>()
        for index in tagSet.tags.indices {
            var early = ProfileEvaluation(engine: self, state: empty, time: 0)
            var late = ProfileEvaluation(engine: self, state: empty, time: 4_000_000_000_000)
            let value = rules.packedValue(of: index, in: &early, table: values)
            clearFeatureCache()
            let lateValue = rules.packedValue(of: index, in: &late, table: values)
            clearFeatureCache()
            if value != .null || value != lateValue || early.until != .max || late.until != .max {
                tags.insert(index)
                tags.formUnion(tagSet.dependentTags[index])
            }
            _ = empty.pointee.setTag(Int32(index), value, at: 0)
        }
        return tags.sorted()
    }

    /// How many profiles the engine holds.
    public var profileCount: Int { slots.count }

    /// The earliest moment a tag of some profile can change with time alone.
    public var nextDue: EpochMillis? { timers.first?.due }

    // MARK: - Inputs

    /// Folds one event of `profile` in, at the engine's moment `now`, and reports the tags it changed.
    public func apply(_ event: RuleEvent, to profile: ProfileID, now: EpochMillis, changes: inout TagChanges) {
        advanceClock(to: now)
        let (slot, isNew) = slot(for: profile)
        guard let state = profiles[slot] else { return }
        state.pointee.prefetchArrays()  // they arrive while the event is matched against the features
        timers.prefetch(slot)
        let queued = state.pointee.due
        fireDue(state, upTo: self.now, changes: &changes)
        state.pointee.isShrunk = false

        touched.removeAll(keepingCapacity: true)
        counting.removeAll(keepingCapacity: true)
        dispatch.forEachMatch(of: event) { index in
            withLogic(index) { logic in
                if let bit = logic.bit {
                    guard let entry = logic.contribution(of: event, now: now) else { return }
                    eventBits[bit.word] |= bit.mask
                    if logic.valueSlot >= 0 { eventValues[logic.valueSlot] = values.pack(entry.value) }
                    if logic.keySlot >= 0 { eventValues[logic.keySlot] = values.pack(entry.key) }
                    counting.append(index)
                } else if update(state, feature: logic, with: event) {
                    touched.append(index)
                }
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
        guard !pending.isEmpty else { return schedule(state, slot: slot, from: queued) }
        reevaluate(state, at: self.now, cause: .event(seq: event.seq), changes: &changes)
        state.pointee.due = state.pointee.earliestDue
        schedule(state, slot: slot, from: queued)
        compact(state)
        sweepValuesIfDue()
    }

    /// Folds in a run of events, each at its own moment, as ``apply(_:to:now:changes:)`` would one by one —
    /// meanwhile asking for the memory of the profiles a few events ahead: where its slot is kept eight
    /// ahead, its state four ahead, its arrays two ahead, the arrays its summaries keep one ahead (each once
    /// the one before has arrived); the event four ahead, its properties two ahead. Among millions of
    /// profiles each is a miss to main memory, which a lone event waits for.
    public func apply(_ inputs: ArraySlice<EngineInput>, changes: inout TagChanges) {
        inputs.withUnsafeBufferPointer { inputs in
            guard let first = inputs.baseAddress else { return }
            for i in inputs.indices {
                if i + 8 < inputs.count { slots.prefetch(inputs[i + 8].profile) }
                if i + 4 < inputs.count {
                    if let slot = slots[inputs[i + 4].profile] { prefetchState(of: slot) }
                    EngineInput.prefetch(first + i + 4, properties: false)
                }
                if i + 2 < inputs.count {
                    if let slot = slots[inputs[i + 2].profile] { prefetchArrays(of: slot) }
                    EngineInput.prefetch(first + i + 2, properties: true)
                }
                if i + 1 < inputs.count, let slot = slots[inputs[i + 1].profile] { prefetchInnerArrays(of: slot) }
                let (profile, now) = (inputs[i].profile, inputs[i].now)
                EngineInput.withEvent(of: first + i) { apply($0, to: profile, now: now, changes: &changes) }
            }
        }
    }

    /// Frees the values no profile holds any more, once the table has doubled since it was last swept.
    private func sweepValuesIfDue() {
        guard values.needsSweep else { return }
        values.sweep { mark in
            rules.forEachPackedCaseValue(mark)
            profiles.forEach { $0.pointee.forEachPackedValue(mark) }
        }
    }

    /// Merges profile `source` into `target`: their features combine, `source` disappears (losing its
    /// tags), and every tag of `target` is re-evaluated.
    public func merge(_ source: ProfileID, into target: ProfileID, now: EpochMillis, changes: inout TagChanges) {
        advanceClock(to: now)
        guard source != target, let sourceSlot = slots[source], let sourceState = profiles[sourceSlot] else { return }
        fireDue(sourceState, upTo: self.now, changes: &changes)
        let (targetSlot, _) = slot(for: target)
        guard let targetState = profiles[targetSlot] else { return }
        let queued = targetState.pointee.due
        fireDue(targetState, upTo: self.now, changes: &changes)
        targetState.pointee.isShrunk = false

        let cause = TagChangeCause.merge(from: source, into: target)
        for slot in sourceState.pointee.tags(in: values) {
            changes.append(TagChange(
                profile: source, tag: tagSet.tags[Int(slot.tag)].id, old: slot.value, new: nil, at: self.now, cause: cause))
        }
        for (index, state) in sourceState.pointee.features {
            let merged = logic[Int(index)].merged(targetState.pointee.feature(index), state)
            targetState.pointee.setFeature(index, merged)
        }
        mergeEvents(of: sourceState, into: targetState)
        profiles.remove(sourceSlot, layout: layout)
        slots[source] = nil
        timers.set(sourceSlot, .max)
        pending.markAll()
        reevaluate(targetState, at: self.now, cause: cause, changes: &changes)
        targetState.pointee.due = targetState.pointee.earliestDue
        schedule(targetState, slot: targetSlot, from: queued)
        sweepValuesIfDue()
    }

    /// Moves the clock to `moment`, firing every profile whose tags time changes on the way, each at the
    /// exact moment it was due.
    public func advance(to moment: EpochMillis, changes: inout TagChanges) {
        advanceClock(to: moment)
        // All that is due, taken off the timer queue first: then the memory of the profiles a few places ahead can
        // be asked for while one fires (its state four ahead, its arrays two ahead, once the state is there).
        // Firing a profile only changes its own moment, and that is after `now`: the order is the queue's.
        // (Asking for the arrays its summaries keep as well, as `apply` does, made firing slower: −2 to −4 %.)
        dueSlots.removeAll(keepingCapacity: true)
        while let slot = timers.popFirst(dueBy: self.now) { dueSlots.append(slot) }
        for (i, slot) in dueSlots.enumerated() {
            if i + 4 < dueSlots.count { prefetchState(of: dueSlots[i + 4]) }
            if i + 2 < dueSlots.count { prefetchArrays(of: dueSlots[i + 2]) }
            guard let state = profiles[slot] else { continue }
            fireDue(state, upTo: self.now, changes: &changes)
            timers.set(slot, state.pointee.due)
        }
    }

    /// Asks for the memory a visit to a profile reads first: its state and its place in the timer queue.
    private func prefetchState(of slot: Int32) {
        profiles.prefetch(slot)
        timers.prefetch(slot)
    }

    /// Asks for a profile's arrays; its state must have arrived (``prefetchState(of:)`` a little before).
    private func prefetchArrays(of slot: Int32) {
        profiles[slot]?.pointee.prefetchArrays()
    }

    /// Asks for the arrays a profile's summaries keep; its arrays must have arrived.
    private func prefetchInnerArrays(of slot: Int32) {
        if readsInnerArrayAddresses { profiles[slot]?.pointee.prefetchInnerArrays() }
    }

    // MARK: - Reading

    /// The tags `profile` has now.
    public func tags(of profile: ProfileID) -> [TagState] {
        guard let slot = slots[profile], let state = profiles[slot] else { return [] }
        return state.pointee.tags(in: values).map { TagState(tag: tagSet.tags[Int($0.tag)].id, value: $0.value, since: $0.since) }
    }

    /// The value of one tag of `profile`, or nil when it does not have it.
    public func value(of tag: String, for profile: ProfileID) -> TagState? {
        guard let index = tagSet.index(of: tag), let state = profileState(profile),
              let (value, since) = state.pointee.tagState(Int32(index), in: values) else { return nil }
        return TagState(tag: tag, value: value, since: since)
    }

    /// Keeps the moment a tag value began when the engine was rebuilt from the log (a replay dates
    /// values by when it saw them, not by when they really began). Ignored when the values differ.
    public func restoreSince(_ since: EpochMillis, of tag: String, for profile: ProfileID, value: RuleValue) {
        guard let index = tagSet.index(of: tag), let state = profileState(profile),
              state.pointee.tagValue(Int32(index), in: values) == value else { return }
        state.pointee.restoreSince(since, of: Int32(index))
    }

    func profileState(_ profile: ProfileID) -> ProfileRef? {
        slots[profile].flatMap { profiles[$0] }
    }

    /// The log sequence numbers of the events a feature currently counts.
    func eventsBehind(feature index: Int, of state: ProfileRef, at moment: EpochMillis) -> [Int64] {
        var until = EpochMillis.max
        if logic[index].bit != nil {
            _ = featureValue(index, of: state, at: moment, until: &until)
            return Array(withWindowRead(index, of: state) { logic[index].countedSeqs($0, events: state.pointee.events) }.prefix(50))
        }
        var scratch = state.pointee.feature(Int32(index))
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
        let slot = profiles.append(ProfileState(profile, layout: layout))
        slots[profile] = slot
        return (slot, true)
    }

    private func update(_ state: ProfileRef, feature logic: FeatureLogic, with event: RuleEvent) -> Bool {
        let index = Int32(logic.index)
        if logic.isSequence {
            guard logic.mayBeStep(event, now: now) else { return false }
            // A slot made for no step stays empty and is dropped.
            return state.pointee.withFeature(index, creating: true) { logic.foldSteps(of: event, into: &$0, now: now) }
        }
        guard let entry = logic.contribution(of: event, now: now) else { return false }
        return state.pointee.withFeature(index, creating: true) { logic.fold(entry, into: &$0) }
    }

    /// Re-evaluates, at each due moment up to `moment`, the tags that were due then — and the tags that refer
    /// to those that changed. The profile's `due` moves on; the timer queue is the caller's to update, once
    /// for the whole visit (``schedule(_:slot:from:)``).
    private func fireDue(_ state: ProfileRef, upTo moment: EpochMillis, changes: inout TagChanges) {
        let fired = state.pointee.due <= moment
        while state.pointee.due <= moment {
            let at = state.pointee.due
            state.pointee.markDue(at: at, in: &pending)
            timerFirings += 1
            reevaluate(state, at: at, cause: .time, changes: &changes)
            state.pointee.due = state.pointee.earliestDue
            // A due moment that does not move on would fire forever: a test fails here instead of hanging.
            assert(state.pointee.due > at, "profile \(state.pointee.id) is due again at \(at) after firing then")
        }
        compact(state)
        // Time alone moved it and its latest event is a day old: likely idle for a while, its arrays need no
        // room to grow. (Shrinking at every firing cost 10 % of the speed: arrays grew back at the next event.)
        if fired, !state.pointee.isShrunk,
           state.pointee.events.count == 0 || moment - state.pointee.events.time(state.pointee.events.count - 1) >= Self.idleAfter {
            state.pointee.shrinkToFit()
            state.pointee.isShrunk = true
        }
    }

    /// How long after its latest event a profile counts as idle.
    static let idleAfter: EpochMillis = 86_400_000

    /// Moves the profile in the timer queue to its `due` moment, when that differs from the one it has there.
    private func schedule(_ state: ProfileRef, slot: Int32, from queued: EpochMillis) {
        let due = state.pointee.due
        if due != queued { timers.set(slot, due) }
    }

    /// Evaluates the pending tags (in dependency order) at `moment`, records what changed and when each
    /// time-dependent one can next change. Tags referring to a tag that changed are evaluated too.
    private func reevaluate(
        _ state: ProfileRef, at moment: EpochMillis, cause: TagChangeCause, changes: inout TagChanges
    ) {
        defer { clearFeatureCache() }
        let profile = state.pointee.id
        while let index = pending.next() {
            if gates.hasGates(index), isHeldBack(index, state, at: moment) { continue }
            tagEvaluations += 1
            var context = ProfileEvaluation(engine: self, state: state, time: moment)
            let value = rules.packedValue(of: index, in: &context, table: values)
            let (changed, old) = state.pointee.setTag(
                Int32(index), value, at: moment, due: isTimeDependent[index] ? context.until : nil)
            guard changed else { continue }
            changes.append(
                profile: profile, tag: Int32(index), of: tagNames, old: old, new: value, in: values, at: moment, cause: cause)
            referringTags.forEach(in: index) { pending.mark($0) }
        }
    }

    /// Whether tag `index`, which the profile does not have, is held back by one of its gates (``TagGates``)
    /// at `moment`: it stays absent with nothing to schedule, and its rule need not be read.
    private func isHeldBack(_ index: Int, _ state: ProfileRef, at moment: EpochMillis) -> Bool {
        guard !state.pointee.hasTagSlot(Int32(index)) else { return false }
        // A kept summary is moved by reads: one left unread would hold on to its events.
        let events = state.pointee.windows.isEmpty ? state.pointee.events.count : Int.max
        return gates.isShut(
            index, events: events, figure: { figureTimeOnlyLowers(of: $0, in: state, at: moment) },
            has: { state.pointee.hasTag(Int32($0)) })
    }

    /// Feature `index`'s figure at `moment` (-∞: null) when time alone can only lower it from then on; nil
    /// otherwise. (The gates are on features whose figures time only lowers, but a sum's window may hold a
    /// negative amount.) A windowed feature is read as a rule reads it — its window moves, the value is
    /// cached for the pass: left unread, a window would hold on to events the profile no longer needs.
    private func figureTimeOnlyLowers(of index: Int, in state: ProfileRef, at moment: EpochMillis) -> Double? {
        withLogic(index) { logic in
            guard logic.bit != nil else {
                return state.pointee.withFeature(Int32(index), creating: false) { logic.figureTimeOnlyLowers($0) }
            }
            var until = EpochMillis.max
            let value = featureValue(index, of: state, at: moment, until: &until)
            guard withWindowRead(index, of: state, { logic.timeOnlyLowers($0) }) else { return nil }
            return value.numberValue ?? -.infinity
        }
    }

    /// Forgets the feature values read while evaluating one profile at one moment. (Whatever reads features
    /// outside a pass, as an explanation does, must call it before and after.)
    func clearFeatureCache() {
        cachePass &+= 1
        if cachePass == 0 {  // wrapped: no entry may look current
            for index in featureCache.indices { featureCache[index].pass = 0 }
            cachePass = 1
        }
    }

    func featureValue(_ index: Int, of state: ProfileRef, at moment: EpochMillis, until: inout EpochMillis) -> RuleValue {
        if featureCache[index].pass == cachePass {
            until = min(until, featureCache[index].until)
            return featureCache[index].value
        }
        var featureDue = EpochMillis.max
        var window: Int32 = -1
        var counted = WindowSummary()
        let value = withLogic(index) { logic in
            guard logic.bit != nil else {
                return state.pointee.withFeature(Int32(index), creating: false) {
                    logic.value(&$0, at: moment, until: &featureDue)
                }
            }
            if let i = state.pointee.windowIndex(of: Int32(index)) {
                window = Int32(i)
                let (exit, enter) = (state.pointee.windows[i].exit, state.pointee.windows[i].enter)
                let value = logic.windowValue(&state.pointee.windows[i], events: state.pointee.events, at: moment, until: &featureDue)
                // Compaction has work only once a window has let events go (or in).
                if state.pointee.windows[i].exit != exit || state.pointee.windows[i].enter != enter {
                    state.pointee.windowsMoved = true
                }
                return value
            }
            guard state.pointee.events.count > 0 else { return logic.function.map(logic.emptyValue) ?? .null }
            var s = logic.summary(at: moment, events: state.pointee.events)
            let value = logic.windowValue(&s, events: state.pointee.events, at: moment, until: &featureDue)
            if s.exit > 0 { state.pointee.windowsMoved = true }  // events before the window: compaction looks
            if logic.keepsSummary(s, events: state.pointee.events) {
                window = Int32(state.pointee.keepWindow(s))
            } else {
                counted = s
            }
            return value
        }
        featureCache[index] = CachedFeature(value: value, until: featureDue, pass: cachePass, window: window, counted: counted)
        until = min(until, featureDue)
        return value
    }

    func momentBelow(_ threshold: Threshold, feature index: Int, of state: ProfileRef, at moment: EpochMillis) -> EpochMillis? {
        guard layout.bits[index] != nil else { return nil }  // all-time and one-event features: not thresholds time lowers
        if featureCache[index].pass != cachePass {
            var until = EpochMillis.max
            _ = featureValue(index, of: state, at: moment, until: &until)
        }
        // The figure the read gave (a distinct count or largest group would be counted again otherwise).
        let figure = featureCache[index].value.numberValue ?? 0
        return withLogic(index) { logic in
            withWindowRead(index, of: state) {
                logic.windowMomentBelow(threshold, $0, events: state.pointee.events, at: moment, figure: figure)
            }
        }
    }

    /// Runs `body` with the window of feature `index` as the current pass read it: the profile's kept
    /// summary, or the one the read counted afresh.
    private func withWindowRead<Result>(_ index: Int, of state: ProfileRef, _ body: (borrowing WindowSummary) -> Result) -> Result {
        let window = Int(featureCache[index].window)
        return window >= 0 ? body(state.pointee.windows[window]) : body(featureCache[index].counted)
    }

    /// Runs `body` with feature `index`'s logic, which the engine holds: no reference counting.
    @inline(__always)
    func withLogic<Result>(_ index: Int, _ body: (FeatureLogic) -> Result) -> Result {
        logicRefs[index]._withUnsafeGuaranteedRef(body)
    }

    func tagReference(_ index: Int, of state: ProfileRef) -> RuleValue {
        let value = state.pointee.tagValue(Int32(index), in: values)
        if isBoolean[index] { return .bool(value != nil) }
        return value ?? .null
    }
}

/// A feature's value as read in one evaluation pass (``TagEngine/featureValue(_:of:at:until:)``).
struct CachedFeature {
    var value: RuleValue = .null
    /// When time alone can next change it.
    var until: EpochMillis = .max
    /// The pass it was read in: it holds while that is the engine's current pass.
    var pass: UInt32 = 0
    /// Where the feature's window summary is among the profile's (-1: none), for
    /// ``TagEngine/momentBelow(_:feature:of:at:)``, which follows the read (no search again).
    var window: Int32 = -1
    /// A window that keeps no summary: the one the read counted afresh (it holds no tally).
    var counted = WindowSummary()
}

/// A profile's features and tags at one moment, as a tag's rule reads them.
struct ProfileEvaluation: RuleContext {
    /// Lives only inside an engine call, which holds the engine: calls through it need no reference counting
    /// (an `unowned(unsafe)` reference was still retained around each call, tens of millions of times).
    private let engine: Unmanaged<TagEngine>
    let state: ProfileRef
    let time: EpochMillis
    var until: EpochMillis = .max
    var patterns: [RulePattern] { engine._withUnsafeGuaranteedRef { $0.patterns } }

    init(engine: TagEngine, state: ProfileRef, time: EpochMillis) {
        self.engine = Unmanaged.passUnretained(engine)
        self.state = state
        self.time = time
    }

    func property(_ path: [String]) -> RuleValue { .null }

    mutating func feature(_ index: Int) -> RuleValue {
        let (state, time) = (state, time)
        return engine._withUnsafeGuaranteedRef { $0.featureValue(index, of: state, at: time, until: &until) }
    }

    func tag(_ index: Int) -> RuleValue { engine._withUnsafeGuaranteedRef { $0.tagReference(index, of: state) } }

    mutating func momentBelow(_ threshold: Threshold, feature index: Int) -> EpochMillis? {
        engine._withUnsafeGuaranteedRef { $0.momentBelow(threshold, feature: index, of: state, at: time) }
    }
}

extension TagEngine {
    /// What the engine holds, counted: where its memory goes (for benchmarks).
    public var holdings: [String: Int] {
        var out: [String: Int] = ["profiles": profileCount]
        (out["timer_bucket_entries"], out["timer_bucket_room"]) = timers.bucketEntries
        profiles.forEach { state in
            out["feature_slots", default: 0] += state.pointee.featureSlots.count
            out["tag_slots", default: 0] += state.pointee.tagSlots.count
            out["shared_events", default: 0] += state.pointee.events.count
            out["window_summaries", default: 0] += state.pointee.windows.count
            state.pointee.windows.forEach { window in
                guard window.keepsTallyStorage else { return }
                out["window_tallies", default: 0] += 1
                out["window_tally_values", default: 0] += window.tally.count
                if window.tally.count > Tally.largeCount { out["window_tallies_hashed", default: 0] += 1 }
            }
            // Room the arrays have beyond what they hold (their growth), in elements.
            out["spare_shared_events", default: 0] += state.pointee.events.spareCapacity
            out["spare_window_summaries", default: 0] += state.pointee.windows.capacity - state.pointee.windows.count
            out["spare_tag_slots", default: 0] += state.pointee.tagSlots.spareSlots
            out["spare_feature_slots", default: 0] += state.pointee.featureSpare
            for (_, feature) in state.pointee.features {
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
