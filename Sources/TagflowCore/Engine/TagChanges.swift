/// Tag changes as the engine reports them, read as ``TagChange``s.
///
/// A change is kept as a 48-byte record with nothing to count — its profile, its tag by number, its values
/// packed (numbers, booleans and short text in place; other values in ``values`` beside), its cause — and
/// made into a `TagChange` only when read. The engine makes ~7 changes an event in the benchmark's tag set:
/// building each as a `TagChange` (a tag name and two values, each counted, copied and destroyed through
/// the type's value witnesses) was ~12 % of the engine's time.
public struct TagChanges: RandomAccessCollection, Sendable, Equatable, ExpressibleByArrayLiteral,
    CustomStringConvertible
{
    private struct Record {
        var profile: Int64
        var at: EpochMillis
        /// The cause's sequence number or other profile (``Cause``).
        var reference: Int64
        var old: PackedValue
        var new: PackedValue
        var tag: Int32
        var cause: Cause
    }

    private enum Cause: UInt8 {
        case event, time, mergedFrom, mergedInto, definition, recovery
        /// A cause stored whole in ``causes`` (a merge naming neither side as the change's profile).
        case other
    }

    /// The names the records' tags are numbers in: an engine's, shared, until a change of another tag set
    /// comes (then the buffer's own).
    final class TagNames: Sendable {
        let ids: [String]
        init(_ ids: [String]) { self.ids = ids }
    }

    private var records: [Record] = []
    /// The values no record keeps in place, named by ``PackedValue/tableEntry`` in a record.
    private var values: [RuleValue] = []
    private var causes: [TagChangeCause] = []
    private var names: TagNames?

    public init() {}

    public init(arrayLiteral changes: TagChange...) {
        for change in changes { append(change) }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { records.count }

    public subscript(position: Int) -> TagChange {
        let record = records[position]
        return TagChange(
            profile: ProfileID(record.profile), tag: names!.ids[Int(record.tag)], old: value(record.old),
            new: value(record.new), at: record.at, cause: cause(of: record))
    }

    /// The cause of change `position`, read without making the change.
    public func cause(at position: Int) -> TagChangeCause { cause(of: records[position]) }

    /// The profile of change `position`, read without making the change.
    public func profile(at position: Int) -> ProfileID { ProfileID(records[position].profile) }

    /// The tag of change `position`, read without making the change.
    public func tag(at position: Int) -> String { names!.ids[Int(records[position].tag)] }

    public static func == (a: TagChanges, b: TagChanges) -> Bool { a.elementsEqual(b) }

    public var description: String { Array(self).description }

    public mutating func reserveCapacity(_ count: Int) { records.reserveCapacity(count) }

    public mutating func removeAll(keepingCapacity: Bool = false) {
        records.removeAll(keepingCapacity: keepingCapacity)
        values.removeAll(keepingCapacity: keepingCapacity)
        causes.removeAll()
        names = nil
    }

    /// Appends a change made elsewhere than in an engine's evaluation.
    public mutating func append(_ change: TagChange) {
        let tag = number(of: change.tag)
        let (cause, reference) = Self.encode(change.cause, of: change.profile, into: &causes)
        records.append(Record(
            profile: change.profile.rawValue, at: change.at, reference: reference, old: pack(change.old),
            new: pack(change.new), tag: tag, cause: cause))
    }

    public mutating func append(contentsOf changes: some Sequence<TagChange>) {
        for change in changes { append(change) }
    }

    /// Appends an engine's change: tag `tag` of `tagNames`, its values packed in `table` (`.null`: the
    /// profile does not have the tag).
    mutating func append(
        profile: ProfileID, tag: Int32, of tagNames: TagNames, old: PackedValue, new: PackedValue, in table: ValueTable,
        at moment: EpochMillis, cause: TagChangeCause
    ) {
        if names == nil { names = tagNames }
        let number = names === tagNames ? tag : number(of: tagNames.ids[Int(tag)])
        let (kind, reference) = Self.encode(cause, of: profile, into: &causes)
        records.append(Record(
            profile: profile.rawValue, at: moment, reference: reference, old: keep(old, from: table),
            new: keep(new, from: table), tag: number, cause: kind))
    }

    // MARK: - Packing

    /// A value of `table` as a record keeps it: in place, or its value in ``values``.
    private mutating func keep(_ packed: PackedValue, from table: ValueTable) -> PackedValue {
        guard packed.tableEntry != nil else { return packed }
        values.append(table.value(packed))
        return PackedValue(tableEntry: UInt32(values.count - 1))
    }

    /// A change's value as a record keeps it: nil as `.null`, numbers and booleans in place (exactly: a
    /// number packing would change, -0 or a NaN, goes to ``values``), every other value in ``values``.
    private mutating func pack(_ value: RuleValue?) -> PackedValue {
        switch value {
        case nil: return .null
        case .bool(let b)?: return b ? .true : .false
        case .number(let n)? where PackedValue(number: n).number?.bitPattern == n.bitPattern:
            return PackedValue(number: n)
        case let value?:
            values.append(value)
            return PackedValue(tableEntry: UInt32(values.count - 1))
        }
    }

    private func value(_ packed: PackedValue) -> RuleValue? {
        if let n = packed.number { return .number(n) }
        if let index = packed.tableEntry { return values[Int(index)] }
        if let text = packed.inlineText { return .string(text) }
        return packed == .null ? nil : .bool(packed == .true)
    }

    /// Tag `name`'s number among the buffer's names, added when new (the names become the buffer's own).
    private mutating func number(of name: String) -> Int32 {
        let ids = names?.ids ?? []
        if let index = ids.lastIndex(of: name) { return Int32(index) }
        names = TagNames(ids + [name])
        return Int32(ids.count)
    }

    private static func encode(
        _ cause: TagChangeCause, of profile: ProfileID, into causes: inout [TagChangeCause]
    ) -> (Cause, Int64) {
        switch cause {
        case .event(let seq): return (.event, seq)
        case .time: return (.time, 0)
        case .merge(let from, let into) where into == profile: return (.mergedFrom, from.rawValue)
        case .merge(let from, let into) where from == profile: return (.mergedInto, into.rawValue)
        case .definition: return (.definition, 0)
        case .recovery: return (.recovery, 0)
        case .merge:
            causes.append(cause)
            return (.other, Int64(causes.count - 1))
        }
    }

    private func cause(of record: Record) -> TagChangeCause {
        switch record.cause {
        case .event: .event(seq: record.reference)
        case .time: .time
        case .mergedFrom: .merge(from: ProfileID(record.reference), into: ProfileID(record.profile))
        case .mergedInto: .merge(from: ProfileID(record.profile), into: ProfileID(record.reference))
        case .definition: .definition
        case .recovery: .recovery
        case .other: causes[Int(record.reference)]
        }
    }
}
