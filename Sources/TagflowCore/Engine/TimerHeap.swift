import CPrefetch

/// A min-heap of (moment, profile slot): when each profile's tags can next change with time alone.
///
/// Indexed: each slot is in the heap at most once and knows its place, so a profile whose due moment moves
/// is moved, not left behind as a stale entry to be skipped (which would cost a visit to the profile). A
/// sift moves a hole down or up, writing the moving entry once at the end instead of swapping at every level.
///
/// Each entry has four children, and a million profiles make a heap of ten levels whose lower ones are cache
/// misses: so an entry's moment and slot are kept together (16 bytes), the four children of an entry fill
/// exactly one 64-byte cache line (the entries start three places into a line-aligned block), and a sift
/// down starts loading the lines of the grandchildren while it compares the children.
struct TimerHeap: ~Copyable {
    private struct Entry {
        var due: EpochMillis
        var slot: Int32
    }

    /// Heap index `i` lives at `base[i + 3]`: the children of `i`, `4i + 1 ... 4i + 4`, at `base[4i + 4 ...]`,
    /// one line.
    private var base: UnsafeMutablePointer<Entry>
    private var capacity: Int
    private(set) var count = 0
    /// Per slot, its index in the heap; -1 when not in it.
    private var places: [Int32] = []

    init() {
        capacity = 61  // 64 entries with the three before the root: one kilobyte
        base = Self.allocate(capacity)
    }

    deinit { Self.deallocate(base, capacity) }

    private static func allocate(_ capacity: Int) -> UnsafeMutablePointer<Entry> {
        BlockPool.allocateLarge(bytes: (capacity + 3) * MemoryLayout<Entry>.stride)
            .bindMemory(to: Entry.self, capacity: capacity + 3)
    }

    private static func deallocate(_ base: UnsafeMutablePointer<Entry>, _ capacity: Int) {
        BlockPool.deallocateLarge(base, bytes: (capacity + 3) * MemoryLayout<Entry>.stride)
    }

    @inline(__always) private func entry(_ index: Int) -> Entry { base[index &+ 3] }
    @inline(__always) private func due(at index: Int) -> EpochMillis { base[index &+ 3].due }

    var first: (due: EpochMillis, slot: Int32)? { count == 0 ? nil : (due(at: 0), entry(0).slot) }

    /// The slot's due moment; `.max` when it has none.
    func due(of slot: Int32) -> EpochMillis {
        let place = Int(slot) < places.count ? places[Int(slot)] : -1
        return place < 0 ? .max : due(at: Int(place))
    }

    /// Sets when `slot` is next due; `.max` takes it out.
    mutating func set(_ slot: Int32, _ due: EpochMillis) {
        if places.count <= Int(slot) { places.append(contentsOf: repeatElement(-1, count: Int(slot) + 1 - places.count)) }
        let place = Int(places[Int(slot)])
        if place < 0 {
            guard due != .max else { return }
            if count == capacity { grow() }
            count += 1
            siftUp(count - 1, Entry(due: due, slot: slot))
        } else if due == .max {
            remove(at: place)
        } else if due < self.due(at: place) {
            siftUp(place, Entry(due: due, slot: slot))
        } else {
            siftDown(place, Entry(due: due, slot: slot))
        }
    }

    private mutating func grow() {
        let larger = Self.allocate(capacity * 2 + 3)
        (larger + 3).moveInitialize(from: base + 3, count: count)
        Self.deallocate(base, capacity)
        base = larger
        capacity = capacity * 2 + 3
    }

    private mutating func remove(at place: Int) {
        places[Int(entry(place).slot)] = -1
        count -= 1
        let last = entry(count)
        guard place < count else { return }
        if place > 0, last.due < due(at: (place - 1) / 4) {
            siftUp(place, last)
        } else {
            siftDown(place, last)
        }
    }

    /// Puts `moving` at `start` or above it, moving larger parents down.
    private mutating func siftUp(_ start: Int, _ moving: Entry) {
        var hole = start
        while hole > 0 {
            let parent = (hole - 1) / 4
            guard moving.due < due(at: parent) else { break }
            move(from: parent, to: hole)
            hole = parent
        }
        put(moving, at: hole)
    }

    /// Puts `moving` at `start` or below it, moving smaller children up.
    private mutating func siftDown(_ start: Int, _ moving: Entry) {
        var hole = start
        while true {
            let first = 4 &* hole &+ 1
            guard first < count else { break }
            // The grandchildren's lines, one of which the next level reads.
            let grandchildren = 4 &* first &+ 1
            if grandchildren < count {
                for line in 0..<4 { tagflow_prefetch(base + (grandchildren &+ 3 &+ 4 &* line)) }
            }
            var child = first
            for other in (first + 1)..<min(first + 4, count) where due(at: other) < due(at: child) { child = other }
            guard due(at: child) < moving.due else { break }
            move(from: child, to: hole)
            hole = child
        }
        put(moving, at: hole)
    }

    @inline(__always)
    private mutating func move(from: Int, to: Int) {
        let moved = entry(from)
        base[to &+ 3] = moved
        places[Int(moved.slot)] = Int32(to)
    }

    @inline(__always)
    private mutating func put(_ moving: Entry, at place: Int) {
        base[place &+ 3] = moving
        places[Int(moving.slot)] = Int32(place)
    }
}
