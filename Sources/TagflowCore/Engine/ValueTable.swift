/// A value as the engine keeps it in a profile's events and tallies: eight bytes instead of a
/// ``RuleValue``'s twenty-four. A number is its own bits; the negative quiet NaNs, which no number is
/// stored as, hold the rest: null, false and true; short text in place (up to six bytes of ASCII: item ids,
/// project codes, tiers); any other value (longer text, a moment, a list) is its number in the engine's
/// ``ValueTable``. Equal values pack equally (numbers: 0 and -0 alike, every NaN alike), so packed values
/// compare and hash as the values do.
struct PackedValue: Hashable, Sendable {
    let bits: UInt64

    /// The top sixteen bits of a reserved pattern (null, false, true, a table entry). The patterns whose top
    /// sixteen bits are `0xFFF8 + n` (n < 7) are text of n bytes in place, in the low 48 bits.
    private static let reserved: UInt64 = 0xFFFF
    private static let inlineText: UInt64 = 0xFFF8
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

    /// Not a number: one of the negative quiet NaNs (top thirteen bits set).
    private var isReserved: Bool { bits >> 51 == 0x1FFF }

    /// Text of up to six ASCII characters, kept in place — when no number can be read from it (`numberValue`
    /// parses text): it must start with a letter, and not with `inf`, `nan` or `snan`. Equal values must
    /// pack equally and Swift compares text by canonical equivalence: the three characters whose
    /// equivalent is ASCII (the Greek question mark, the Greek varia, the Kelvin sign) are kept as that.
    /// Other text goes to the table.
    init?(inlineText text: String) {
        var text = text
        let (payload, count, isASCII) = text.withUTF8 { bytes -> (UInt64, Int, Bool) in
            // Six characters of three bytes each can still spell six ASCII ones.
            guard bytes.count <= 18 else { return (0, bytes.count, true) }
            var payload: UInt64 = 0
            var high: UInt8 = 0
            for i in bytes.indices {
                payload |= UInt64(bytes[i]) << (8 * UInt64(i & 7))
                high |= bytes[i]
            }
            return (payload, bytes.count, high < 0x80)
        }
        guard isASCII else {
            self.init(inlineSpellingOf: text)
            return
        }
        guard count <= 6 else { return nil }
        self.init(inlinePayload: payload, count: UInt64(count))
    }

    private init?(inlineSpellingOf text: String) {
        var payload: UInt64 = 0
        var count: UInt64 = 0
        for scalar in text.unicodeScalars {
            let byte: UInt8
            switch scalar.value {
            case 0..<0x80: byte = UInt8(scalar.value)
            case 0x37E: byte = UInt8(ascii: ";")
            case 0x1FEF: byte = UInt8(ascii: "`")
            case 0x212A: byte = UInt8(ascii: "K")
            default: return nil
            }
            guard count < 6 else { return nil }
            payload |= UInt64(byte) << (8 * count)
            count += 1
        }
        self.init(inlinePayload: payload, count: count)
    }

    private init?(inlinePayload payload: UInt64, count: UInt64) {
        if count > 0 {
            let lower = payload | 0x2020_2020_2020  // ASCII letters in lower case (other bytes do not matter)
            let first = UInt8(truncatingIfNeeded: lower)
            guard first >= UInt8(ascii: "a"), first <= UInt8(ascii: "z") else { return nil }
            // The only numbers spelt from a letter: inf, infinity, nan, nan(…), snan (bytes from the lowest).
            let three = lower & 0xFF_FFFF
            guard three != 0x66_6E69, three != 0x6E_616E, lower & 0xFFFF_FFFF != 0x6E61_6E73 else { return nil }
        }
        bits = (Self.inlineText + count) << 48 | payload
    }

    /// The text kept in place, when the value is such text.
    var inlineText: String? {
        let top = bits >> 48
        guard top >= Self.inlineText, top < Self.inlineText + 7 else { return nil }
        let count = Int(top - Self.inlineText)
        return withUnsafeBytes(of: bits.littleEndian) { String(decoding: $0.prefix(count), as: UTF8.self) }
    }

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
        case .string(let text):
            if let inline = PackedValue(inlineText: text) { return inline }
            return tableEntry(for: value)
        case .time, .list:
            return tableEntry(for: value)
        }
    }

    private func tableEntry(for value: RuleValue) -> PackedValue {
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

    func value(_ packed: PackedValue) -> RuleValue {
        if let n = packed.number { return .number(n) }
        if let id = packed.tableEntry { return entries[Int(id)]!.value }
        if let text = packed.inlineText { return .string(text) }
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
