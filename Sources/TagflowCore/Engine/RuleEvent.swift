/// What the tag engine reads of an event.
public struct RuleEvent: Sendable {
    /// The event's place in the log: breaks ties between events with the same timestamp.
    public var seq: Int64
    /// The track event's name; `page`, `screen`, `identify`, `group` or `alias` for those calls.
    public var name: String
    public var timestamp: EpochMillis
    public var payload: JSONObject
    /// Traits an identify call sets.
    public var traits: JSONObject
    public var identifiers: [Identifier]

    public init(
        seq: Int64, name: String, timestamp: EpochMillis, payload: JSONObject = JSONObject(),
        traits: JSONObject = JSONObject(), identifiers: [Identifier] = []
    ) {
        self.seq = seq
        self.name = name
        self.timestamp = timestamp
        self.payload = payload
        self.traits = traits
        self.identifiers = identifiers
    }

    public init(_ event: Event, seq: Int64) {
        self.init(
            seq: seq, name: event.type == .track ? event.name ?? "track" : event.type.rawValue,
            timestamp: event.timestamp, payload: event.payload, traits: event.traits,
            identifiers: event.identifiers)
    }

    /// A property as rules name it: `project` is `properties.project`; a name the properties do not have is
    /// looked up from the top of the message, so `context.campaign.source` and `name` work too.
    public func property(_ path: [String]) -> RuleValue {
        if let properties = payload["properties"]?.objectValue, let value = Self.lookup(path, in: properties) {
            return RuleValue(value)
        }
        return Self.lookup(path, in: payload).map(RuleValue.init) ?? .null
    }

    static func lookup(_ path: [String], in object: JSONObject) -> JSONValue? {
        var current = object
        for (i, key) in path.enumerated() {
            guard let value = current[key] else { return nil }
            if i == path.count - 1 { return value }
            guard let next = value.objectValue else { return nil }
            current = next
        }
        return nil
    }
}
