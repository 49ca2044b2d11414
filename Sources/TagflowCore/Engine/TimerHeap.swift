/// A min-heap of (moment, profile slot): when each profile's tags can next change with time alone.
///
/// Entries are never removed early: a profile whose due moment moved leaves a stale entry behind, which
/// is skipped when it surfaces (the profile's own `due` is the truth).
struct TimerHeap: Sendable {
    private var items: [(due: EpochMillis, slot: Int32)] = []

    var count: Int { items.count }
    var first: (due: EpochMillis, slot: Int32)? { items.first }

    mutating func push(_ due: EpochMillis, _ slot: Int32) {
        items.append((due, slot))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].due < items[parent].due else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (due: EpochMillis, slot: Int32)? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count, items[left].due < items[smallest].due { smallest = left }
                if right < items.count, items[right].due < items[smallest].due { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
