/// A min-heap of (moment, profile slot): when each profile's tags can next change with time alone.
///
/// Indexed: each slot is in the heap at most once and knows its place, so a profile whose due moment moves
/// is moved, not left behind as a stale entry to be skipped (which would cost a visit to the profile).
/// Moments and slots are kept in two arrays (the comparisons read only the moments), and a sift moves a
/// hole down or up, writing the moving entry once at the end instead of swapping at every level. Each
/// entry has four children, side by side in memory: half the levels of a binary heap, so half the scattered
/// writes to `places` a sift makes.
struct TimerHeap: Sendable {
    private var dues: [EpochMillis] = []
    private var slots: [Int32] = []
    /// Per slot, its index in the heap; -1 when not in it.
    private var places: [Int32] = []

    var count: Int { dues.count }
    var first: (due: EpochMillis, slot: Int32)? { dues.isEmpty ? nil : (dues[0], slots[0]) }

    /// The slot likely due next after ``first`` (the earliest of its children; ``first`` itself may come back
    /// first when it is moved).
    var runnerUp: Int32? {
        guard dues.count > 1 else { return nil }
        var child = 1
        for other in 2..<min(5, dues.count) where dues[other] < dues[child] { child = other }
        return slots[child]
    }

    /// The slot's due moment; `.max` when it has none.
    func due(of slot: Int32) -> EpochMillis {
        let place = Int(slot) < places.count ? places[Int(slot)] : -1
        return place < 0 ? .max : dues[Int(place)]
    }

    /// Sets when `slot` is next due; `.max` takes it out.
    mutating func set(_ slot: Int32, _ due: EpochMillis) {
        if places.count <= Int(slot) { places.append(contentsOf: repeatElement(-1, count: Int(slot) + 1 - places.count)) }
        let place = Int(places[Int(slot)])
        if place < 0 {
            guard due != .max else { return }
            dues.append(due)
            slots.append(slot)
            siftUp(dues.count - 1, due, slot)
        } else if due == .max {
            remove(at: place)
        } else if due < dues[place] {
            siftUp(place, due, slot)
        } else {
            siftDown(place, due, slot)
        }
    }

    private mutating func remove(at place: Int) {
        places[Int(slots[place])] = -1
        let lastDue = dues.removeLast(), lastSlot = slots.removeLast()
        guard place < dues.count else { return }
        if place > 0, lastDue < dues[(place - 1) / 4] {
            siftUp(place, lastDue, lastSlot)
        } else {
            siftDown(place, lastDue, lastSlot)
        }
    }

    /// Puts (due, slot) at `hole` or above it, moving larger parents down.
    private mutating func siftUp(_ start: Int, _ due: EpochMillis, _ slot: Int32) {
        var hole = start
        while hole > 0 {
            let parent = (hole - 1) / 4
            guard due < dues[parent] else { break }
            move(from: parent, to: hole)
            hole = parent
        }
        put(due, slot, at: hole)
    }

    /// Puts (due, slot) at `hole` or below it, moving smaller children up.
    private mutating func siftDown(_ start: Int, _ due: EpochMillis, _ slot: Int32) {
        var hole = start
        let count = dues.count
        while true {
            let first = 4 * hole + 1
            guard first < count else { break }
            var child = first
            for other in (first + 1)..<min(first + 4, count) where dues[other] < dues[child] { child = other }
            guard dues[child] < due else { break }
            move(from: child, to: hole)
            hole = child
        }
        put(due, slot, at: hole)
    }

    @inline(__always)
    private mutating func move(from: Int, to: Int) {
        dues[to] = dues[from]
        slots[to] = slots[from]
        places[Int(slots[to])] = Int32(to)
    }

    @inline(__always)
    private mutating func put(_ due: EpochMillis, _ slot: Int32, at place: Int) {
        dues[place] = due
        slots[place] = slot
        places[Int(slot)] = Int32(place)
    }
}
