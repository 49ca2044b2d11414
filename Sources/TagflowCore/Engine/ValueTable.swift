/// A value as the engine keeps it in a profile's events and tallies: eight bytes instead of a
/// ``RuleValue``'s twenty-four. A number is its own bits; null, false and true are reserved NaN patterns;
/// any other value (text, a moment, a list) is its number in the engine's ``ValueTable``, inside another.
/// Equal values pack equally (numbers: 0 and -0 alike, every NaN alike), so packed values compare and hash
/// as the values do.
struct PackedValue: Hashable, Sendable {
    let bits: UInt64

    /// The top sixteen bits of a reserved pattern: a negative quiet NaN no number is stored as.
    private static let reserved: UInt64 = 0xFFFC
    private static let canonicalNaN: UInt64 = 0x7FF8_0000_0000_0000

    private init(bits: UInt64) { self.bits = bits }

    /// As stored among a profile's event rows.
    init(raw: Int64) { bits = UInt64(bitPattern: raw) }
    var raw: Int64 { Int64(bitPattern: bits) }

    private init(reservedKind kind: UInt64, payload: UInt32 = 0) {
        bits = Self.reserved << 48 | kind << 32 | UInt64(payload)
    }

    static let null = PackedValue(reservedKind: 0)
    static let `false` = PackedValue(reservedKind: 1)
    static let `true` = PackedValue(reservedKind: 2)

    init(number: Double) {
        bits = number.isNaN ? Self.canonicalNaN : number == 0 ? 0 : number.bitPattern
    }

    init(tableEntry id: UInt32) { self.init(reservedKind: 3, payload: id) }

    private var isReserved: Bool { bits >> 48 == Self.reserved }

    /// The number, when the value is one (not text that spells one: see ``ValueTable/number(_:)``).
    @inline(__always) var number: Double? { isReserved ? nil : Double(bitPattern: bits) }

    /// The table entry, when the value is kept in the table.
    @inline(__always) var tableEntry: UInt32? { isReserved && (bits >> 32) & 0xFFFF == 3 ? UInt32(truncatingIfNeeded: bits) : nil }
}

/// The values of an engine that are neither numbers nor null nor booleans — mostly property text such as
/// item ids and project names — each kept once and named by a number that ``PackedValue`` carries. An entry
/// is reused once no profile holds it: when the table has doubled since the last sweep, the engine marks
/// what its profiles hold and the rest is freed (``sweep(_:)``).
final class ValueTable {
    private struct Entry {
        var value: RuleValue
        /// `value.numberValue`, parsed once (text such as "1280" counts as a number).
        var number: Double?
    }

    private var ids: [RuleValue: UInt32] = [:]
    private var entries: [Entry?] = []
    private var free: [UInt32] = []
    /// How many entries were held after the last sweep.
    private var heldAtLastSweep = 0
    /// Sweeps below this many entries are not worth their pass over every profile.
    private let smallest: Int

    init(smallest: Int = 4096) {
        self.smallest = smallest
    }

    /// How many values the table holds.
    var count: Int { ids.count }
    /// How many sweeps it has had.
    private(set) var sweeps = 0

    func pack(_ value: RuleValue) -> PackedValue {
        switch value {
        case .null: return .null
        case .bool(let b): return b ? .true : .false
        case .number(let n): return PackedValue(number: n)
        case .string, .time, .list:
            if let id = ids[value] { return PackedValue(tableEntry: id) }
            let entry = Entry(value: value, number: value.numberValue)
            let id: UInt32
            if let reused = free.popLast() {
                id = reused
                entries[Int(id)] = entry
            } else {
                id = UInt32(entries.count)
                entries.append(entry)
            }
            ids[value] = id
            return PackedValue(tableEntry: id)
        }
    }

    func value(_ packed: PackedValue) -> RuleValue {
        if let n = packed.number { return .number(n) }
        if let id = packed.tableEntry { return entries[Int(id)]!.value }
        return packed == .null ? .null : .bool(packed == .true)
    }

    /// The value as a number, as ``RuleValue/numberValue`` reads it.
    @inline(__always) func number(_ packed: PackedValue) -> Double? {
        if let n = packed.number { return n }
        if let id = packed.tableEntry { return entries[Int(id)]!.number }
        return nil
    }

    /// The table has doubled since it was last swept.
    var needsSweep: Bool { ids.count >= Swift.max(smallest, 2 * heldAtLastSweep) }

    /// Frees every entry that `markHeld` does not report: it must call its argument with every packed value
    /// the engine's profiles hold.
    func sweep(_ markHeld: ((PackedValue) -> Void) -> Void) {
        var held = [Bool](repeating: false, count: entries.count)
        markHeld { packed in
            if let id = packed.tableEntry { held[Int(id)] = true }
        }
        for id in entries.indices where !held[id] {
            guard let entry = entries[id] else { continue }
            ids[entry.value] = nil
            entries[id] = nil
            free.append(UInt32(id))
        }
        heldAtLastSweep = ids.count
        sweeps += 1
    }
}
