/// A min-heap of (moment, profile slot): when each profile's tags can next change with time alone.
///
/// Indexed: each slot is in the heap at most once and knows its place, so a profile whose due moment moves
/// is moved, not left behind as a stale entry to be skipped (which would cost a visit to the profile).
struct TimerHeap: Sendable {
    private var items: [(due: EpochMillis, slot: Int32)] = []
    /// Per slot, its index in `items`; -1 when not in the heap.
    private var places: [Int32] = []

    var count: Int { items.count }
    var first: (due: EpochMillis, slot: Int32)? { items.first }

    /// The slot's due moment; `.max` when it has none.
    func due(of slot: Int32) -> EpochMillis {
        let place = Int(slot) < places.count ? places[Int(slot)] : -1
        return place < 0 ? .max : items[Int(place)].due
    }

    /// Sets when `slot` is next due; `.max` takes it out.
    mutating func set(_ slot: Int32, _ due: EpochMillis) {
        while places.count <= Int(slot) { places.append(-1) }
        let place = Int(places[Int(slot)])
        if place < 0 {
            guard due != .max else { return }
            items.append((due, slot))
            places[Int(slot)] = Int32(items.count - 1)
            siftUp(items.count - 1)
        } else if due == .max {
            remove(at: place)
        } else {
            let old = items[place].due
            items[place].due = due
            if due < old { siftUp(place) } else { siftDown(place) }
        }
    }

    private mutating func remove(at place: Int) {
        let slot = items[place].slot
        let last = items.removeLast()
        places[Int(slot)] = -1
        guard place < items.count else { return }
        items[place] = last
        places[Int(last.slot)] = Int32(place)
        siftUp(place)
        siftDown(Int(places[Int(last.slot)]))
    }

    private mutating func swapItems(_ a: Int, _ b: Int) {
        items.swapAt(a, b)
        places[Int(items[a].slot)] = Int32(a)
        places[Int(items[b].slot)] = Int32(b)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].due < items[parent].due else { break }
            swapItems(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, items[left].due < items[smallest].due { smallest = left }
            if right < items.count, items[right].due < items[smallest].due { smallest = right }
            if smallest == parent { return }
            swapItems(parent, smallest)
            parent = smallest
        }
    }
}
