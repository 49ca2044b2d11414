/// A profile's shared events (``ProfileEvents``) as the engine keeps them: recorded as they come, counted by
/// the summaries of the windows that keep one, forgotten once every window counting them is done with them.
/// A window that keeps no summary counts from its start, found by time: the events before it are done with.
extension TagEngine {
    /// Keeps the event in the profile's shared events for the windowed features that count it (`counting`,
    /// with `eventBits` and `eventValues` filled in), and counts it in the summaries of those that keep one.
    func record(_ event: RuleEvent, in state: ProfileRef) {
        state.pointee.windowsMoved = true
        let position = state.pointee.events.insert(time: event.timestamp, seq: event.seq, bits: eventBits, values: eventValues)
        for i in eventBits.indices { eventBits[i] = 0 }
        for i in eventValues.indices { eventValues[i] = .null }
        guard !state.pointee.windows.isEmpty else { return }
        let bits = layout.bits
        // An event later than all the others (the usual case) moves no cursor: they are all at or before it.
        if position < state.pointee.events.count - 1 {
            for i in state.pointee.windows.indices {
                let feature = Int(state.pointee.windows[i].feature)
                let counted = state.pointee.events.has(position, bits[feature]!)
                state.pointee.windows[i].shift(insertedAt: position, counted: counted, isRange: isRangeWindow[feature])
            }
        }
        for index in counting {
            guard let i = state.pointee.windowIndex(of: Int32(index)) else { continue }  // counted when read
            withLogic(index) { $0.added(&state.pointee.windows[i], at: position, events: state.pointee.events) }
        }
    }

    /// Forgets the shared events every windowed feature of the profile is done with, and the summaries of
    /// windows that count few events again.
    func compact(_ state: ProfileRef) {
        state.pointee.dropEmptyFeatures()
        guard state.pointee.windowsMoved else { return }
        state.pointee.windowsMoved = false
        dropShortWindows(state)
        guard state.pointee.events.count > 0 else { return }
        // The events at the front every window counting them starts after (and kept summaries have moved
        // past: their cursors stay valid).
        var done = 0
        var limit = state.pointee.events.count
        for i in state.pointee.windows.indices { limit = min(limit, Int(state.pointee.windows[i].exit)) }
        while done < limit, hasLeftEveryWindow(done, state) { done += 1 }
        if done > 0 {
            state.pointee.events.dropFirst(done)
            for i in state.pointee.windows.indices {
                state.pointee.windows[i].exit -= Int32(done)
                state.pointee.windows[i].enter = max(0, state.pointee.windows[i].enter - Int32(done))  // only range windows move it
            }
        }
        // A long window (60 days of purchases) holds the front back: when a quarter more events (four at
        // least) are kept than after the last such pass, forget every event that no feature counts any more,
        // wherever it is. (Waiting for twice as many kept a third more events than the features count, at
        // 20 events a profile; the pass costs no measurable speed.)
        let kept = Int(state.pointee.eventsKept)
        guard state.pointee.events.count >= kept + max(4, kept / 4) else { return }
        clearMarksOfLeftEvents(state)
        let moved = state.pointee.events.removeUncounted()
        for i in state.pointee.windows.indices {
            state.pointee.windows[i].exit = moved[Int(state.pointee.windows[i].exit)]
            state.pointee.windows[i].enter = moved[Int(state.pointee.windows[i].enter)]
        }
        state.pointee.eventsKept = Int32(state.pointee.events.count)
    }

    /// Whether the event at `position` is before the start, now, of every window that counts it. (A kept
    /// summary's `exit` is never past an event its window has not let go.)
    private func hasLeftEveryWindow(_ position: Int, _ state: ProfileRef) -> Bool {
        let time = state.pointee.events.time(position)
        return state.pointee.events.allCounting(position) { bit in
            withLogic(layout.featureOfBit[bit]) { time < $0.horizon(at: now) }
        }
    }

    /// Takes each windowed feature's mark off the events that have left its window: those before its
    /// summary's `exit`, or before its start now.
    func clearMarksOfLeftEvents(_ state: ProfileRef) {
        for (feature, bit) in layout.bits.enumerated() {
            guard let bit else { continue }
            let end = state.pointee.windowIndex(of: Int32(feature)).map { Int(state.pointee.windows[$0].exit) }
                ?? withLogic(feature) { state.pointee.events.firstPosition(notBefore: $0.horizon(at: now)) }
            state.pointee.events.clear(bit, before: end)
        }
    }

    /// Forgets the summaries of windows that count few events again (``FeatureLogic/mayDropSummary(_:events:)``):
    /// reads count them from the shared events. (Most profiles are idle: their windows empty one after the
    /// other as time passes.)
    private func dropShortWindows(_ state: ProfileRef) {
        var i = 0
        var dropped = false
        while i < state.pointee.windows.count {
            let feature = Int(state.pointee.windows[i].feature)
            guard withLogic(feature, { $0.mayDropSummary(state.pointee.windows[i], events: state.pointee.events) }) else {
                i += 1
                continue
            }
            state.pointee.windows.swapAt(i, state.pointee.windows.count - 1)
            state.pointee.windows.removeLast()
            dropped = true
        }
        guard dropped else { return }
        if state.pointee.windows.isEmpty { state.pointee.windows.shrinkToFit() } else { state.pointee.windows.shrinkIfSparse() }
    }

    /// Combines the shared events of two profiles; the windows count them afresh when read (and keep a
    /// summary again if they count many).
    func mergeEvents(of source: ProfileRef, into target: ProfileRef) {
        guard source.pointee.events.count > 0 else { return }
        clearMarksOfLeftEvents(source)
        clearMarksOfLeftEvents(target)
        target.pointee.events = ProfileEvents.merged(target.pointee.events, source.pointee.events)
        target.pointee.windows.removeAll()
        target.pointee.windowsMoved = true
    }
}
