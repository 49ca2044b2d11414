/// The low 16 bits of the values sharing one high 16-bit key, stored the cheapest of three ways.
///
/// - `array`: the values, sorted; at most 4,096 of them (8 KB, the size of a bitset).
/// - `bitset`: 65,536 bits in 1,024 words, with the number set kept beside them.
/// - `run`: sorted, disjoint, non-adjacent runs of consecutive values.
///
/// Operations return whichever of array and bitset fits the result; runs come from ``optimized()``
/// (or from operations between run containers), as in the portable Roaring format.
enum Container: Equatable, Sendable {
    case array([UInt16])
    case bitset(Bitset)
    case run([ValueRun])

    /// Above this many values a bitset is smaller than an array.
    static let arrayLimit = 4096

    var cardinality: Int {
        switch self {
        case .array(let values): values.count
        case .bitset(let bits): bits.cardinality
        case .run(let runs): runs.reduce(0) { $0 + Int($1.length) + 1 }
        }
    }

    /// A bitset container's words and count (nil for other kinds), read without holding on to the bitset:
    /// the words stay valid as long as the container does, and must not be changed through this.
    @inline(__always)
    var bitset: (words: UnsafeBufferPointer<UInt64>, cardinality: Int)? {
        guard case .bitset(let bits) = self else { return nil }
        return (bits.withWords { $0 }, bits.cardinality)
    }

    func holdsSameValues(as other: Container) -> Bool {
        switch (self, other) {
        case (.array(let a), .array(let b)): return a == b
        case (.bitset(let a), .bitset(let b)): return a == b
        case (.run(let a), .run(let b)): return a == b
        default: return cardinality == other.cardinality && sortedValues() == other.sortedValues()
        }
    }

    var isEmpty: Bool {
        switch self {
        case .array(let values): values.isEmpty
        case .bitset(let bits): bits.cardinality == 0
        case .run(let runs): runs.isEmpty
        }
    }

    func contains(_ value: UInt16) -> Bool {
        switch self {
        case .array(let values): return values.sortedIndex(of: value) != nil
        case .bitset(let bits): return bits.contains(value)
        case .run(let runs): return runs.runIndex(containing: value) != nil
        }
    }

    /// A container of the values, as an array or a bitset by their number.
    static func from(sorted values: [UInt16]) -> Container {
        values.count <= arrayLimit ? .array(values) : .bitset(Bitset(sorted: values))
    }

    /// The same values as an array when few, as a bitset otherwise (runs become one or the other).
    func normalized() -> Container {
        switch self {
        case .array(let values): return values.count <= Self.arrayLimit ? self : .bitset(Bitset(sorted: values))
        case .bitset(let bits): return bits.cardinality <= Self.arrayLimit ? .array(bits.sortedValues()) : self
        case .run: return .from(bitset: asBitset())
        }
    }

    static func from(bitset: Bitset) -> Container {
        bitset.cardinality <= arrayLimit ? .array(bitset.sortedValues()) : .bitset(bitset)
    }

    func asBitset() -> Bitset {
        switch self {
        case .array(let values): return Bitset(sorted: values)
        case .bitset(let bits): return bits
        case .run(let runs):
            var bits = Bitset()
            for run in runs { bits.setRange(Int(run.start), Int(run.start) + Int(run.length)) }
            return bits
        }
    }

    /// The values in increasing order.
    func sortedValues() -> [UInt16] {
        switch self {
        case .array(let values): return values
        case .bitset(let bits): return bits.sortedValues()
        case .run(let runs):
            var out: [UInt16] = []
            out.reserveCapacity(cardinality)
            for run in runs { for v in Int(run.start)...(Int(run.start) + Int(run.length)) { out.append(UInt16(v)) } }
            return out
        }
    }

    /// The runs of consecutive values.
    func runs() -> [ValueRun] {
        switch self {
        case .run(let runs): return runs
        case .array(let values): return ValueRun.runs(ofSorted: values)
        case .bitset(let bits): return bits.runs()
        }
    }

    /// The smallest of the three forms in the portable format's sizes.
    func optimized() -> Container {
        let runs = runs()
        let runBytes = 2 + 4 * runs.count
        let count = cardinality
        let plainBytes = count <= Self.arrayLimit ? 2 * count : 8192
        if runBytes < plainBytes { return .run(runs) }
        return normalized()
    }

    // MARK: - Insert and remove

    /// Adds a value; false when it was there.
    mutating func insert(_ value: UInt16) -> Bool {
        switch self {
        case .array(var values):
            guard case .missing(let at) = values.search(value) else { return false }
            self = .array([])
            if values.count < Self.arrayLimit {
                values.insert(value, at: at)
                self = .array(values)
            } else {
                var bits = Bitset(sorted: values)
                bits.insert(value)
                self = .bitset(bits)
            }
            return true
        case .bitset(var bits):
            guard !bits.contains(value) else { return false }
            self = .array([])
            bits.insert(value)
            self = .bitset(bits)
            return true
        case .run:
            guard !contains(value) else { return false }
            var bits = asBitset()
            bits.insert(value)
            self = .from(bitset: bits)
            return true
        }
    }

    /// Removes a value; false when it was not there.
    mutating func remove(_ value: UInt16) -> Bool {
        switch self {
        case .array(var values):
            guard case .found(let at) = values.search(value) else { return false }
            self = .array([])
            values.remove(at: at)
            self = .array(values)
            return true
        case .bitset(var bits):
            guard bits.contains(value) else { return false }
            self = .array([])
            bits.remove(value)
            self = bits.cardinality <= Self.arrayLimit ? .array(bits.sortedValues()) : .bitset(bits)
            return true
        case .run:
            guard contains(value) else { return false }
            var bits = asBitset()
            bits.remove(value)
            self = .from(bitset: bits)
            return true
        }
    }

    // MARK: - Rank and select

    /// How many values are at most `value`.
    func rank(_ value: UInt16) -> Int {
        switch self {
        case .array(let values):
            switch values.search(value) {
            case .found(let at): return at + 1
            case .missing(let at): return at
            }
        case .bitset(let bits): return bits.rank(value)
        case .run(let runs):
            var total = 0
            for run in runs {
                if value < run.start { break }
                total += Int(min(value, run.end) - run.start) + 1
            }
            return total
        }
    }

    /// The value at `index` in increasing order (`index` < cardinality).
    func select(_ index: Int) -> UInt16 {
        switch self {
        case .array(let values): return values[index]
        case .bitset(let bits): return bits.select(index)
        case .run(let runs):
            var left = index
            for run in runs {
                if left <= Int(run.length) { return run.start + UInt16(left) }
                left -= Int(run.length) + 1
            }
            preconditionFailure("select beyond the cardinality")
        }
    }
}

/// `length + 1` consecutive values from `start`.
struct ValueRun: Equatable, Sendable {
    var start: UInt16
    /// One less than the number of values (so that a run can hold all 65,536).
    var length: UInt16

    var end: UInt16 { start + length }

    static func runs(ofSorted values: [UInt16]) -> [ValueRun] {
        var runs: [ValueRun] = []
        var i = 0
        while i < values.count {
            var j = i
            while j + 1 < values.count, values[j + 1] == values[j] + 1 { j += 1 }
            runs.append(ValueRun(start: values[i], length: values[j] - values[i]))
            i = j + 1
        }
        return runs
    }
}

enum SearchResult {
    case found(Int)
    case missing(insertAt: Int)
}

extension Array where Element == UInt16 {
    func search(_ value: UInt16) -> SearchResult {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) >> 1
            if self[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low < count && self[low] == value ? .found(low) : .missing(insertAt: low)
    }

    func sortedIndex(of value: UInt16) -> Int? {
        if case .found(let at) = search(value) { return at }
        return nil
    }
}

extension Array where Element == ValueRun {
    func runIndex(containing value: UInt16) -> Int? {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) >> 1
            if self[mid].end < value { low = mid + 1 } else { high = mid }
        }
        return low < count && self[low].start <= value ? low : nil
    }
}
