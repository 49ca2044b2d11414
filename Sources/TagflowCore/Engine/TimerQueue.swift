import CPrefetch

/// When each profile's tags can next change with time alone: (moment, profile slot) pairs, the earliest
/// first.
///
/// Two parts. The moments of the next hour or so (before `horizon`) are in a min-heap; later ones are in
/// buckets of ~70 minutes (2^22 ms), unsorted, in a ring of 4,096 buckets (~199 days; later still, in an
/// overflow bucket). As the clock passes a bucket's start, its entries move into the heap. Most moments are
/// days ahead (a window's end), and most updates move them by minutes or hours: in a bucket that costs a
/// write in place or an entry added to another bucket, where a heap of a million entries paid a sift
/// through ten levels, the lower ones cache misses. The heap stays the size of an hour's firings.
///
/// Indexed: each slot knows its place, so a profile whose due moment moves is moved, never fired at a moment
/// it no longer has (which would cost a visit to the profile). In the heap it is moved at once. A bucket
/// entry it leaves is left behind, stale, and skipped when its bucket is taken in: the place a slot has is
/// the only entry that counts. (Taking the entry out at once read the far bucket's length and its last
/// entry, cold memory, at nearly every event; taking a bucket in writes every entry's place anyway.)
struct TimerQueue: ~Copyable {
    struct Entry {
        var due: EpochMillis
        var slot: Int32
    }

    private var near = NearHeap()
    /// The ring of buckets; bucket number `b` (the moments `b << bucketShift ..< (b + 1) << bucketShift`)
    /// lives at `buckets[b & (ringSize - 1)]` while `horizon <= b < horizon + ringSize`; then the overflow,
    /// at `buckets[overflowBucket]`: the entries in buckets at or past `horizon + ringSize`, moved into the
    /// ring as it comes near.
    private var buckets = Buckets(count: ringSize + 1)
    /// A bit per ring bucket that holds entries, to find the earliest without looking at every bucket.
    private var occupied = [UInt64](repeating: 0, count: ringSize / 64)
    /// How many slots have their place in a bucket (stale entries left behind not counted).
    private var farCount = 0
    /// The first bucket not in the heap: the heap holds every moment before `horizon << bucketShift`.
    private var horizon: Int64 = 0
    /// Per slot, where it is: `-1` nowhere, `0...` its index in the heap, `-2 - (bucket << 32 | index)` in
    /// a bucket (bucket `ringSize` is the overflow).
    private var places: [Int64] = []

    static let bucketShift: Int64 = 22
    static let ringSize = 4096
    private static let overflowBucket = ringSize

    var count: Int { near.count + farCount }

    /// Entries the buckets keep (stale ones included) and the room they have, for benchmarks.
    var bucketEntries: (entries: Int, room: Int) { buckets.stored }

    /// The earliest entry: the heap's first, or else the earliest of the earliest ring bucket with a live
    /// entry and of the overflow (which may hold moments the ring has come to, until it next takes them in).
    var first: (due: EpochMillis, slot: Int32)? {
        if let first = near.first { return (first.due, first.slot) }
        guard farCount > 0 else { return nil }
        let start = Int(horizon & Int64(Self.ringSize - 1))
        var inRing: Entry?
        var bucket = nextOccupiedBucket(from: start)
        while let b = bucket, inRing == nil {
            inRing = earliestLive(in: b)
            bucket = nextOccupiedBucket(from: b + 1, before: start)
        }
        let earliest = [inRing, earliestLive(in: Self.overflowBucket)].compactMap { $0 }.min { $0.due < $1.due }
        return earliest.map { ($0.due, $0.slot) }
    }

    /// The earliest of a bucket's entries that are their slots' places (the others were left behind).
    private func earliestLive(in bucket: Int) -> Entry? {
        var earliest: Entry?
        for index in 0..<buckets.count(bucket) {
            let entry = buckets[bucket, index]
            if isLive(entry, bucket, index), entry.due < earliest?.due ?? .max { earliest = entry }
        }
        return earliest
    }

    /// The entries of a bucket that are their slots' places.
    private func live(in bucket: Int) -> [Entry] {
        (0..<buckets.count(bucket)).compactMap { index in
            let entry = buckets[bucket, index]
            return isLive(entry, bucket, index) ? entry : nil
        }
    }

    @inline(__always) private func isLive(_ entry: Entry, _ bucket: Int, _ index: Int) -> Bool {
        places[Int(entry.slot)] == Self.encode(bucket, index)
    }

    /// The slot's due moment; `.max` when it has none.
    func due(of slot: Int32) -> EpochMillis {
        let place = Int(slot) < places.count ? places[Int(slot)] : -1
        if place == -1 { return .max }
        if place >= 0 { return near.due(at: Int(place)) }
        let (bucket, index) = Self.decode(place)
        return buckets[bucket, index].due
    }

    /// Asks for the memory of the slot's place, which `set` reads: a cache miss in a table of a million.
    @inline(__always)
    func prefetch(_ slot: Int32) {
        if Int(slot) < places.count { places.withUnsafeBufferPointer { tagflow_prefetch($0.baseAddress! + Int(slot)) } }
    }

    /// Sets when `slot` is next due; `.max` takes it out.
    mutating func set(_ slot: Int32, _ due: EpochMillis) {
        if places.count <= Int(slot) { places.append(contentsOf: repeatElement(-1, count: Int(slot) + 1 - places.count)) }
        if count == 0, due != .max { horizon = (due >> Self.bucketShift) + 1 }  // an empty queue starts afresh
        let place = places[Int(slot)]
        let goesNear = due < horizon << Self.bucketShift
        if place >= 0 {
            if due == .max {
                near.remove(at: Int(place), places: &places)
                places[Int(slot)] = -1
            } else if goesNear {
                near.move(at: Int(place), to: Entry(due: due, slot: slot), places: &places)
            } else {
                near.remove(at: Int(place), places: &places)
                addFar(Entry(due: due, slot: slot))
            }
            return
        }
        if place != -1 {
            let (bucket, index) = Self.decode(place)
            if due != .max, !goesNear, bucketIndex(of: due) == bucket {
                buckets[bucket, index].due = due
                return
            }
            farCount -= 1  // its entry stays behind, stale
        }
        if due == .max {
            places[Int(slot)] = -1
        } else if goesNear {
            near.insert(Entry(due: due, slot: slot), places: &places)
        } else {
            addFar(Entry(due: due, slot: slot))
        }
    }

    /// Takes out and returns the earliest slot due at or before `moment`, if any; first moves into the heap
    /// the buckets that begin at or before `moment`.
    mutating func popFirst(dueBy moment: EpochMillis) -> Int32? {
        let last = moment >> Self.bucketShift
        if horizon <= last {
            if farCount == 0 {
                horizon = last + 1
            } else {
                while horizon <= last { pullBucket() }
            }
        }
        guard let first = near.first, first.due <= moment else { return nil }
        near.remove(at: 0, places: &places)
        places[Int(first.slot)] = -1
        return first.slot
    }

    // MARK: - Buckets

    /// The ring bucket (or `overflowBucket`) of a moment at or past the horizon.
    private func bucketIndex(of due: EpochMillis) -> Int {
        let bucket = due >> Self.bucketShift
        return bucket - horizon < Int64(Self.ringSize) ? Int(bucket & Int64(Self.ringSize - 1)) : Self.overflowBucket
    }

    private mutating func addFar(_ entry: Entry) {
        let bucket = bucketIndex(of: entry.due)
        farCount += 1
        let index = buckets.append(entry, to: bucket)
        places[Int(entry.slot)] = Self.encode(bucket, index)
        if index == 0, bucket != Self.overflowBucket { occupied[bucket >> 6] |= 1 << UInt64(bucket & 63) }
    }

    /// Moves the live entries of the bucket at the horizon into the heap and the horizon on by one bucket;
    /// every half turn of the ring, the live overflow entries now within a turn move into the ring.
    private mutating func pullBucket() {
        let bucket = Int(horizon & Int64(Self.ringSize - 1))
        if buckets.count(bucket) > 0 {
            occupied[bucket >> 6] &= ~(1 << UInt64(bucket & 63))
            for index in 0..<buckets.count(bucket) {
                let entry = buckets[bucket, index]
                guard isLive(entry, bucket, index) else { continue }
                farCount -= 1
                near.insert(entry, places: &places)
            }
            buckets.empty(bucket)
        }
        horizon += 1
        if horizon & Int64(Self.ringSize / 2 - 1) == 0, buckets.count(Self.overflowBucket) > 0 {
            // (Told apart before any moves: an entry put back in the overflow takes a place that a stale one
            // may have had.)
            let waiting = live(in: Self.overflowBucket)
            buckets.empty(Self.overflowBucket)
            farCount -= waiting.count
            for entry in waiting { addFar(entry) }
        }
    }

    /// The first occupied ring bucket from `start` on round the ring, stopping before `end` (without one, a
    /// whole turn: back at `start`).
    private func nextOccupiedBucket(from start: Int, before end: Int? = nil) -> Int? {
        var bucket = start & (Self.ringSize - 1)
        var left = end.map { ($0 - bucket) & (Self.ringSize - 1) } ?? Self.ringSize
        while left > 0 {
            let bits = occupied[bucket >> 6] >> UInt64(bucket & 63)
            if bits & 1 != 0 { return bucket }
            let skip = bits == 0 ? 64 - (bucket & 63) : bits.trailingZeroBitCount
            left -= skip
            bucket = (bucket + skip) & (Self.ringSize - 1)
        }
        return nil
    }

    private static func encode(_ bucket: Int, _ index: Int) -> Int64 { -2 - (Int64(bucket) << 32 | Int64(index)) }

    private static func decode(_ place: Int64) -> (bucket: Int, index: Int) {
        let value = -2 - place
        return (Int(value >> 32), Int(value & 0xFFFF_FFFF))
    }
}

/// The near part of the timer queue: a min-heap whose entries know their place (`places`, shared with the
/// buckets). A sift moves a hole down or up, writing the moving entry once at the end instead of swapping at
/// every level. Each entry has four children, which fill one 64-byte cache line (the entries start three
/// places into a line-aligned block), and a sift down starts loading the lines of the grandchildren while it
/// compares the children.
private struct NearHeap: ~Copyable {
    typealias Entry = TimerQueue.Entry

    /// Heap index `i` lives at `base[i + 3]`: the children of `i`, `4i + 1 ... 4i + 4`, at `base[4i + 4 ...]`,
    /// one line.
    private var base: UnsafeMutablePointer<Entry>
    private var capacity: Int
    private(set) var count = 0

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
    @inline(__always) func due(at index: Int) -> EpochMillis { base[index &+ 3].due }

    var first: Entry? { count == 0 ? nil : entry(0) }

    mutating func insert(_ entry: Entry, places: inout [Int64]) {
        if count == capacity { grow() }
        count += 1
        siftUp(count - 1, entry, &places)
    }

    /// Gives the entry at `place` a new moment.
    mutating func move(at place: Int, to moved: Entry, places: inout [Int64]) {
        if moved.due < due(at: place) { siftUp(place, moved, &places) } else { siftDown(place, moved, &places) }
    }

    /// Takes out the entry at `place` (its own place is left for the caller to set).
    mutating func remove(at place: Int, places: inout [Int64]) {
        count -= 1
        let last = entry(count)
        guard place < count else { return }
        if place > 0, last.due < due(at: (place - 1) / 4) {
            siftUp(place, last, &places)
        } else {
            siftDown(place, last, &places)
        }
    }

    private mutating func grow() {
        let larger = Self.allocate(capacity * 2 + 3)
        (larger + 3).moveInitialize(from: base + 3, count: count)
        Self.deallocate(base, capacity)
        base = larger
        capacity = capacity * 2 + 3
    }

    /// Puts `moving` at `start` or above it, moving larger parents down.
    private mutating func siftUp(_ start: Int, _ moving: Entry, _ places: inout [Int64]) {
        var hole = start
        while hole > 0 {
            let parent = (hole - 1) / 4
            guard moving.due < due(at: parent) else { break }
            move(from: parent, to: hole, &places)
            hole = parent
        }
        put(moving, at: hole, &places)
    }

    /// Puts `moving` at `start` or below it, moving smaller children up.
    private mutating func siftDown(_ start: Int, _ moving: Entry, _ places: inout [Int64]) {
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
            move(from: child, to: hole, &places)
            hole = child
        }
        put(moving, at: hole, &places)
    }

    @inline(__always)
    private mutating func move(from: Int, to: Int, _ places: inout [Int64]) {
        let moved = entry(from)
        base[to &+ 3] = moved
        places[Int(moved.slot)] = Int64(to)
    }

    @inline(__always)
    private mutating func put(_ moving: Entry, at place: Int, _ places: inout [Int64]) {
        base[place &+ 3] = moving
        places[Int(moving.slot)] = Int64(place)
    }
}

/// The timer queue's buckets: each an unsorted run of entries that only grows (entries left behind stay until
/// the bucket is emptied). Where each run is and how long it is sit side by side in one table (64 KB), not in
/// an array object per bucket: adding to a bucket days ahead read that object's length, a cache miss, at
/// nearly every firing.
private struct Buckets: ~Copyable {
    typealias Entry = TimerQueue.Entry

    private struct Run {
        var base: UnsafeMutablePointer<Entry>?
        var count: Int32
        var capacity: Int32
    }

    private let table: UnsafeMutablePointer<Run>
    private let bucketCount: Int

    init(count: Int) {
        bucketCount = count
        table = .allocate(capacity: count)
        table.initialize(repeating: Run(base: nil, count: 0, capacity: 0), count: count)
    }

    deinit {
        for bucket in 0..<bucketCount { table[bucket].base?.deallocate() }
        table.deallocate()
    }

    /// Entries kept in all buckets (stale ones included), and the room they have (for benchmarks).
    var stored: (entries: Int, room: Int) {
        (0..<bucketCount).reduce(into: (0, 0)) { $0.0 += Int(table[$1].count); $0.1 += Int(table[$1].capacity) }
    }

    func count(_ bucket: Int) -> Int {
        precondition(bucket >= 0 && bucket < bucketCount, "timer bucket out of range")
        return Int(table[bucket].count)
    }

    subscript(bucket: Int, index: Int) -> Entry {
        get {
            precondition(index >= 0 && index < count(bucket), "timer bucket index out of range")
            return table[bucket].base![index]
        }
        set {
            precondition(index >= 0 && index < count(bucket), "timer bucket index out of range")
            table[bucket].base![index] = newValue
        }
    }

    /// Adds `entry` at the end of `bucket`; its index there.
    mutating func append(_ entry: Entry, to bucket: Int) -> Int {
        precondition(bucket >= 0 && bucket < bucketCount, "timer bucket out of range")
        let run = table + bucket
        let index = Int(run.pointee.count)
        if index == Int(run.pointee.capacity) {
            let capacity = Swift.max(8, index * 2)
            let larger = UnsafeMutablePointer<Entry>.allocate(capacity: capacity)
            if let base = run.pointee.base {
                larger.moveInitialize(from: base, count: index)
                base.deallocate()
            }
            run.pointee.base = larger
            run.pointee.capacity = Int32(capacity)
        }
        (run.pointee.base! + index).initialize(to: entry)
        run.pointee.count += 1
        return index
    }

    /// Forgets every entry of `bucket` and gives its memory back.
    mutating func empty(_ bucket: Int) {
        precondition(bucket >= 0 && bucket < bucketCount, "timer bucket out of range")
        table[bucket].base?.deallocate()
        table[bucket] = Run(base: nil, count: 0, capacity: 0)
    }
}
