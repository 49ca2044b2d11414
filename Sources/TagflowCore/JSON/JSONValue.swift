/// A JSON document as a value: what senders put in `properties`, `traits` and `context`.
///
/// Objects keep their fields in the order they arrived, so a stored payload reads like the one sent.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The field `key` of an object, or nil for a missing field or a value that is not an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// The string, or nil for any other kind of value.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The object, or nil for any other kind of value.
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// True for an explicit JSON `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The name of the value's JSON kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int, .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// One `"key": value` pair of a JSON object.
public struct JSONField: Sendable, Hashable {
    public var key: String
    public var value: JSONValue

    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// A JSON object with its fields in arrival order. Lookups are linear: event objects are small.
public struct JSONObject: Sendable, Hashable {
    public var fields: [JSONField] {
        didSet { source = nil }
    }
    /// Where the text this object was parsed from is, while it is unchanged (``sourceText``).
    private var source: Source?

    /// A place in a parsed document, in 16 bytes: as an `ArraySlice` (32) it made every JSON value 48 bytes
    /// and every object field 64, a cache line, which a lookup reads one by one.
    private struct Source: Sendable {
        let document: [UInt8]
        let start: UInt32
        let end: UInt32
    }

    public init(_ fields: [JSONField] = []) {
        self.fields = fields
    }

    /// An object parsed from `document`'s bytes at `range`.
    init(fields: [JSONField], parsedFrom document: [UInt8], at range: Range<Int>) {
        self.fields = fields
        if let start = UInt32(exactly: range.lowerBound), let end = UInt32(exactly: range.upperBound) {
            source = Source(document: document, start: start, end: end)
        }
    }

    /// The exact text this object was parsed from, while it is unchanged: serialising copies it instead
    /// of writing every nested value again (a stored event's `properties` and `context` usually).
    var sourceText: ArraySlice<UInt8>? {
        source.map { $0.document[Int($0.start)..<Int($0.end)] }
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool { a.fields == b.fields }

    public func hash(into hasher: inout Hasher) { hasher.combine(fields) }

    /// The value of the last field named `key` (JSON's usual "last one wins").
    public subscript(key: String) -> JSONValue? {
        get {
            var i = fields.count
            while i > 0 {
                i -= 1
                if Self.sameName(fields[i].key, key) { return fields[i].value }
            }
            return nil
        }
        set {
            if let index = fields.lastIndex(where: { Self.sameName($0.key, key) }) {
                if let newValue {
                    fields[index].value = newValue
                } else {
                    fields.remove(at: index)
                }
            } else if let newValue {
                fields.append(JSONField(key, newValue))
            }
        }
    }

    public var isEmpty: Bool { fields.isEmpty }
    public var keys: [String] { fields.map(\.key) }

    /// Whether two field names are the same as JSON compares them: the same UTF-8 bytes (RFC 8259 §8.3), not
    /// any canonically equivalent spelling, as `String`'s `==` alone would have it. Their lengths are compared
    /// first, which settles nearly every name a lookup passes over (`==` took a slow comparison for each, ~2 %
    /// of ingestion); names of one length equal as text are the same bytes (but for combining marks written in
    /// another order, which no sender does).
    @inline(__always)
    static func sameName(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && a == b
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements.map { JSONField($0.0, $0.1) }))
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements.map { JSONField($0.0, $0.1) })
    }
}
