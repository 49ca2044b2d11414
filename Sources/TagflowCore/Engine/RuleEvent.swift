import CPrefetch

/// What the tag engine reads of an event: immutable, shared by reference (passing a struct of five
/// buffers to the engine cost five reference counts each way, a few per cent of its time).
public final class RuleEvent: Sendable {
    /// The event's place in the log: breaks ties between events with the same timestamp.
    public let seq: Int64
    /// The track event's name; `page`, `screen`, `identify`, `group` or `alias` for those calls.
    public let name: String
    public let timestamp: EpochMillis
    public let payload: JSONObject
    /// The payload's `properties`, found once: rules read them many times an event.
    private let properties: JSONObject
    /// Traits an identify call sets.
    public let traits: JSONObject
    public let identifiers: [Identifier]
    /// Where its properties' fields are stored, for ``EngineInput/prefetch(_:properties:)``.
    fileprivate let propertiesStorage: UInt

    public init(
        seq: Int64, name: String, timestamp: EpochMillis, payload: JSONObject = JSONObject(),
        traits: JSONObject = JSONObject(), identifiers: [Identifier] = []
    ) {
        self.seq = seq
        self.name = name
        self.timestamp = timestamp
        self.payload = payload
        properties = Self.properties(of: payload)
        self.traits = traits
        self.identifiers = identifiers
        propertiesStorage = unsafeBitCast(properties.fields, to: UInt.self)
    }

    /// The event `event` points to: its parts are read where they lie (passing the event itself copied all
    /// ten of them, a reference counted for each and back, for every event the writer stores).
    public convenience init(_ event: UnsafePointer<Event>, seq: Int64) {
        self.init(
            seq: seq, name: event.pointee.type == .track ? event.pointee.name ?? "track" : event.pointee.type.rawValue,
            timestamp: event.pointee.timestamp, payload: event.pointee.payload, traits: event.pointee.traits,
            identifiers: event.pointee.identifiers)
    }

    /// A property as rules name it: `project` is `properties.project`; a name the properties do not have is
    /// looked up in the call's `traits` (an identify or group call carries its data there: `identify.city`)
    /// and then from the top of the message, so `context.campaign.source` and `name` work too.
    public func property(_ path: [String]) -> RuleValue {
        Self.lookup(path, in: properties) ?? callTraits.flatMap { Self.lookup(path, in: $0) } ?? Self.lookup(path, in: payload)
            ?? .null
    }

    /// The traits at the top of the message (identify and group calls).
    private var callTraits: JSONObject? { payload["traits"]?.objectValue }

    private static func properties(of payload: JSONObject) -> JSONObject {
        payload["properties"]?.objectValue ?? JSONObject()
    }

    /// The value at `path` inside `object` (the last field of each name, as JSON reads it), or nil when a
    /// step is missing or not an object. The objects on the way are read in place: returning each step's
    /// value, as a subscript does, counted a reference to it and back (rules read several an event).
    static func lookup(_ path: [String], in object: JSONObject) -> RuleValue? {
        guard !path.isEmpty else { return nil }
        return object.fields.withUnsafeBufferPointer { lookup(path, from: 0, in: $0) }
    }

    /// The value at `path[depth...]` among `fields`. (The path is passed whole with a depth: a slice of it
    /// at each step counted a reference to the array and back.)
    private static func lookup(_ path: [String], from depth: Int, in fields: UnsafeBufferPointer<JSONField>) -> RuleValue? {
        let key = path[depth]
        var i = fields.count
        while i > 0 {
            i -= 1
            guard JSONObject.sameName(fields[i].key, key) else { continue }
            guard depth == path.count - 1 else {
                guard case .object(let next) = fields[i].value else { return nil }
                return next.fields.withUnsafeBufferPointer { lookup(path, from: depth + 1, in: $0) }
            }
            // The scalars are made into rule values here, as `RuleValue.init(_:)` would, reading the field in
            // place: passing it to that initialiser copied it first (a reference counted and back, even inlined).
            switch fields[i].value {
            case .bool(let b): return .bool(b)
            case .int(let n): return .number(Double(n))
            case .double(let d): return .number(d)
            case .string(let s): return .string(s)
            case .null, .object, .array: return RuleValue(fields[i].value)
            }
        }
        return nil
    }
}

/// One event for ``TagEngine/apply(_:changes:)``: the profile it belongs to and the engine's moment when it
/// is applied.
public struct EngineInput: Sendable {
    public var event: RuleEvent
    public var profile: ProfileID
    public var now: EpochMillis

    public init(_ event: RuleEvent, to profile: ProfileID, now: EpochMillis) {
        self.event = event
        self.profile = profile
        self.now = now
    }

    /// Starts loading the event an input holds (its object's first lines), or, once that has arrived, the
    /// fields of its properties, which rules read — without counting a reference, which would read the
    /// object now. Bulk callers hand over events parsed long before, no longer in the cache.
    static func prefetch(_ input: UnsafePointer<EngineInput>, properties: Bool) {
        let object = UnsafeRawPointer(input).load(fromByteOffset: eventOffset, as: UnsafeRawPointer.self)
        guard properties else {
            tagflow_prefetch(object)
            tagflow_prefetch(object + 64)
            return
        }
        let storage = Unmanaged<RuleEvent>.fromOpaque(object)._withUnsafeGuaranteedRef { $0.propertiesStorage }
        tagflow_prefetch(UnsafeRawPointer(bitPattern: storage))
        tagflow_prefetch(UnsafeRawPointer(bitPattern: storage &+ 64))
    }

    /// Runs `body` with the event an input holds, read in place: no reference counted for it and back (the
    /// buffer holds the event for the whole call).
    @inline(__always)
    static func withEvent<Result>(of input: UnsafePointer<EngineInput>, _ body: (RuleEvent) -> Result) -> Result {
        UnsafeRawPointer(input).load(fromByteOffset: eventOffset, as: Unmanaged<RuleEvent>.self)._withUnsafeGuaranteedRef(body)
    }

    private static var eventOffset: Int { MemoryLayout<EngineInput>.offset(of: \EngineInput.event)! }
}
