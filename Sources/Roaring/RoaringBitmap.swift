/// A compressed set of 32-bit integers (Roaring): values are grouped by their high 16 bits, and each
/// group's low 16 bits are kept as a sorted array, a bitset or runs, whichever is smallest.
///
/// Reads and writes the portable Roaring format that CRoaring, pyroaring and Java's RoaringBitmap use.
public struct RoaringBitmap: Equatable, Sendable, Sequence, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// The high 16 bits of each group, increasing; `containers[i]` holds the group of `keys[i]`.
    var keys: [UInt16] = []
    var containers: [Container] = []

    public init() {}

    public init(arrayLiteral values: UInt32...) {
        self.init(values)
    }

    /// The set of `values`, in any order and with repeats.
    public init<S: Sequence>(_ values: S) where S.Element == UInt32 {
        var sorted = Array(values)
        sorted.sort()
        self.init(sorted: sorted)
    }

    /// The set of already sorted values (repeats allowed): the fast way to build one.
    public init(sorted values: [UInt32]) {
        var i = 0
        var group: [UInt16] = []
        while i < values.count {
            let key = UInt16(values[i] >> 16)
            group.removeAll(keepingCapacity: true)
            while i < values.count, UInt16(values[i] >> 16) == key {
                let low = UInt16(truncatingIfNeeded: values[i])
                if group.last != low { group.append(low) }
                i += 1
            }
            keys.append(key)
            containers.append(.from(sorted: group))
        }
    }

    /// Equal when they hold the same values, however each stores them.
    public static func == (a: RoaringBitmap, b: RoaringBitmap) -> Bool {
        a.keys == b.keys && zip(a.containers, b.containers).allSatisfy { $0.holdsSameValues(as: $1) }
    }

    init(keys: [UInt16], containers: [Container]) {
        self.keys = keys
        self.containers = containers
    }

    /// How many values.
    public var count: Int { containers.reduce(0) { $0 + $1.cardinality } }
    public var isEmpty: Bool { keys.isEmpty }

    public var min: UInt32? { keys.first.map { UInt32($0) << 16 | UInt32(containers[0].select(0)) } }
    public var max: UInt32? {
        guard let key = keys.last, let last = containers.last else { return nil }
        return UInt32(key) << 16 | UInt32(last.select(last.cardinality - 1))
    }

    public var description: String {
        let shown = prefix(10).map(String.init).joined(separator: ", ")
        return "RoaringBitmap(\(count) values: \(shown)\(count > 10 ? ", ..." : ""))"
    }

    private func index(of key: UInt16) -> SearchResult {
        var low = 0, high = keys.count
        while low < high {
            let mid = (low + high) >> 1
            if keys[mid] < key { low = mid + 1 } else { high = mid }
        }
        return low < keys.count && keys[low] == key ? .found(low) : .missing(insertAt: low)
    }

    public func contains(_ value: UInt32) -> Bool {
        guard case .found(let i) = index(of: UInt16(value >> 16)) else { return false }
        return containers[i].contains(UInt16(truncatingIfNeeded: value))
    }

    /// Adds a value; false when it was there already.
    @discardableResult
    public mutating func insert(_ value: UInt32) -> Bool {
        let low = UInt16(truncatingIfNeeded: value)
        switch index(of: UInt16(value >> 16)) {
        case .found(let i): return containers[i].insert(low)
        case .missing(let at):
            keys.insert(UInt16(value >> 16), at: at)
            containers.insert(.array([low]), at: at)
            return true
        }
    }

    /// Removes a value; false when it was not there.
    @discardableResult
    public mutating func remove(_ value: UInt32) -> Bool {
        guard case .found(let i) = index(of: UInt16(value >> 16)) else { return false }
        let removed = containers[i].remove(UInt16(truncatingIfNeeded: value))
        if containers[i].isEmpty {
            keys.remove(at: i)
            containers.remove(at: i)
        }
        return removed
    }

    // MARK: - Set operations

    /// `op(self, other)` as a new bitmap.
    public func combined(with other: RoaringBitmap, _ op: SetOperation) -> RoaringBitmap {
        var out = RoaringBitmap()
        var i = 0, j = 0
        let a = self, b = other
        out.keys.reserveCapacity(op == .and ? Swift.min(a.keys.count, b.keys.count) : a.keys.count + b.keys.count)
        while i < a.keys.count || j < b.keys.count {
            if j == b.keys.count || (i < a.keys.count && a.keys[i] < b.keys[j]) {
                if op != .and { out.append(a.keys[i], a.containers[i]) }
                i += 1
            } else if i == a.keys.count || b.keys[j] < a.keys[i] {
                if op == .or || op == .xor { out.append(b.keys[j], b.containers[j]) }
                j += 1
            } else {
                out.append(a.keys[i], a.containers[i].combined(with: b.containers[j], op))
                i += 1
                j += 1
            }
        }
        return out
    }

    /// The number of values of `op(self, other)`, without building it.
    @inline(__always)  // so that each count function has its own loop with `op` known (5 µs of 70 otherwise)
    public func combinedCount(with other: RoaringBitmap, _ op: SetOperation) -> Int {
        var total = 0
        var i = 0, j = 0
        let wide = WideKernels.available
        while i < keys.count || j < other.keys.count {
            if j == other.keys.count || (i < keys.count && keys[i] < other.keys[j]) {
                if op != .and { total += containers[i].cardinality }
                i += 1
            } else if i == keys.count || other.keys[j] < keys[i] {
                if op == .or || op == .xor { total += other.containers[j].cardinality }
                j += 1
            } else if let x = containers[i].bitset, let y = other.containers[j].bitset {
                // Read through their words here: passed on as containers, each pair was copied (retained).
                total += Container.count(op, both: BitsetKernels.andCount(x.words, y.words, wide: wide), x.cardinality, y.cardinality)
                i += 1
                j += 1
            } else {
                total += containers[i].combinedCount(with: other.containers[j], op)
                i += 1
                j += 1
            }
        }
        return total
    }

    private mutating func append(_ key: UInt16, _ container: Container) {
        guard !container.isEmpty else { return }
        keys.append(key)
        containers.append(container)
    }

    public func intersection(_ other: RoaringBitmap) -> RoaringBitmap { combined(with: other, .and) }
    public func union(_ other: RoaringBitmap) -> RoaringBitmap { combined(with: other, .or) }
    public func symmetricDifference(_ other: RoaringBitmap) -> RoaringBitmap { combined(with: other, .xor) }
    public func subtracting(_ other: RoaringBitmap) -> RoaringBitmap { combined(with: other, .andNot) }

    public mutating func formIntersection(_ other: RoaringBitmap) { formCombination(with: other, .and) }
    public mutating func formUnion(_ other: RoaringBitmap) { formCombination(with: other, .or) }
    public mutating func formSymmetricDifference(_ other: RoaringBitmap) { formCombination(with: other, .xor) }
    public mutating func subtract(_ other: RoaringBitmap) { formCombination(with: other, .andNot) }

    public func intersectionCount(_ other: RoaringBitmap) -> Int { combinedCount(with: other, .and) }
    public func unionCount(_ other: RoaringBitmap) -> Int { combinedCount(with: other, .or) }
    public func symmetricDifferenceCount(_ other: RoaringBitmap) -> Int { combinedCount(with: other, .xor) }
    public func subtractingCount(_ other: RoaringBitmap) -> Int { combinedCount(with: other, .andNot) }

    /// |A ∩ B| / |A ∪ B|; 0 for two empty sets.
    public func jaccard(_ other: RoaringBitmap) -> Double {
        let both = intersectionCount(other)
        let either = count + other.count - both
        return either == 0 ? 0 : Double(both) / Double(either)
    }

    /// `self = op(self, other)`, changing bitset containers in place where it can.
    public mutating func formCombination(with other: RoaringBitmap, _ op: SetOperation) {
        var i = 0, j = 0
        var keptKeys: [UInt16] = []
        var kept: [Container] = []
        keptKeys.reserveCapacity(keys.count + (op == .or || op == .xor ? other.keys.count : 0))
        kept.reserveCapacity(keptKeys.capacity)
        var mine = containers
        containers = []  // the containers are changed where they lie, uniquely referenced
        while i < keys.count || j < other.keys.count {
            if j == other.keys.count || (i < keys.count && keys[i] < other.keys[j]) {
                if op != .and {
                    keptKeys.append(keys[i])
                    kept.append(mine[i])
                }
                i += 1
            } else if i == keys.count || other.keys[j] < keys[i] {
                if op == .or || op == .xor {
                    keptKeys.append(other.keys[j])
                    kept.append(other.containers[j])
                }
                j += 1
            } else {
                let result = mine[i].formCombination(with: other.containers[j], op)
                if !result.isEmpty {
                    keptKeys.append(keys[i])
                    kept.append(result)
                }
                mine[i] = .array([])
                i += 1
                j += 1
            }
        }
        keys = keptKeys
        containers = kept
    }

    // MARK: - Many at once

    /// The union of all `bitmaps`: each group's containers are combined once, into one bitset when large.
    public static func union(_ bitmaps: [RoaringBitmap]) -> RoaringBitmap {
        guard bitmaps.count > 2 else { return bitmaps.reduce(RoaringBitmap()) { $0.union($1) } }
        var groups: [UInt16: [Container]] = [:]
        for bitmap in bitmaps {
            for (key, container) in zip(bitmap.keys, bitmap.containers) { groups[key, default: []].append(container) }
        }
        var out = RoaringBitmap()
        for key in groups.keys.sorted() {
            let parts = groups[key]!
            if parts.count == 1 {
                out.append(key, parts[0])
                continue
            }
            var bits = Bitset()
            for part in parts { bits.formUnion(part) }
            out.append(key, .from(bitset: bits))
        }
        return out
    }

    /// The intersection of all `bitmaps` (empty for none), smallest first so that it shrinks fast.
    public static func intersection(_ bitmaps: [RoaringBitmap]) -> RoaringBitmap {
        let ordered = bitmaps.map { (count: $0.count, bitmap: $0) }.sorted { $0.count < $1.count }.map(\.bitmap)
        guard var result = ordered.first else { return RoaringBitmap() }
        for bitmap in ordered.dropFirst() where !result.isEmpty {
            result.formIntersection(bitmap)
        }
        return result
    }

    // MARK: - Rank and select

    /// How many values are at most `value`.
    public func rank(_ value: UInt32) -> Int {
        let key = UInt16(value >> 16)
        var total = 0
        for (i, k) in keys.enumerated() {
            if k < key {
                total += containers[i].cardinality
            } else {
                if k == key { total += containers[i].rank(UInt16(truncatingIfNeeded: value)) }
                break
            }
        }
        return total
    }

    /// The value at `index` in increasing order; nil past the end.
    public func select(_ index: Int) -> UInt32? {
        guard index >= 0 else { return nil }
        var left = index
        for (i, container) in containers.enumerated() {
            let count = container.cardinality
            if left < count { return UInt32(keys[i]) << 16 | UInt32(container.select(left)) }
            left -= count
        }
        return nil
    }

    // MARK: - Form

    /// Turns containers into runs where that is smaller (clustered ids); true when any changed.
    @discardableResult
    public mutating func optimize() -> Bool {
        var changed = false
        for i in containers.indices {
            let better = containers[i].optimized()
            if better != containers[i] {
                containers[i] = better
                changed = true
            }
        }
        return changed
    }

    /// How many containers of each kind (for benchmarks and diagnostics).
    public var containerKinds: (arrays: Int, bitsets: Int, runs: Int) {
        var kinds = (arrays: 0, bitsets: 0, runs: 0)
        for container in containers {
            switch container {
            case .array: kinds.arrays += 1
            case .bitset: kinds.bitsets += 1
            case .run: kinds.runs += 1
            }
        }
        return kinds
    }

    // MARK: - Iteration

    public struct Iterator: IteratorProtocol {
        let bitmap: RoaringBitmap
        var group = 0
        var values: [UInt16] = []
        var position = 0

        public mutating func next() -> UInt32? {
            while position == values.count {
                guard group < bitmap.keys.count else { return nil }
                values = bitmap.containers[group].sortedValues()
                position = 0
                group += 1
            }
            defer { position += 1 }
            return UInt32(bitmap.keys[group - 1]) << 16 | UInt32(values[position])
        }
    }

    public func makeIterator() -> Iterator { Iterator(bitmap: self) }
}

extension Container {
    /// `self = op(self, other)` with bitsets changed in place; returns the result (self) normalized.
    mutating func formCombination(with other: Container, _ op: SetOperation) -> Container {
        guard case .bitset(var bits) = self else { return combined(with: other, op) }
        self = .array([])
        switch other {
        case .bitset(let b):
            bits.formWords(b, op)
        case .array(let values) where op != .and:
            for v in values {
                switch op {
                case .or: bits.insert(v)
                case .andNot: bits.remove(v)
                default: if bits.contains(v) { bits.remove(v) } else { bits.insert(v) }
                }
            }
        default:
            return Container.bitset(bits).combined(with: other, op)
        }
        return .from(bitset: bits)
    }
}

extension Bitset {
    mutating func formWords(_ other: Bitset, _ op: SetOperation) {
        cardinality = withMutableWords { x in
            other.withWords { y in BitsetKernels.combine(UnsafeBufferPointer(x), y, op, into: x) }
        }
    }

    mutating func formUnion(_ container: Container) {
        switch container {
        case .bitset(let b): formWords(b, .or)
        case .array(let values): for v in values { insert(v) }
        case .run(let runs): for run in runs { setRange(Int(run.start), Int(run.end)) }
        }
    }
}
