/// The kinds of message of the Segment tracking spec.
public enum EventType: String, Sendable, CaseIterable, Codable {
    case track, identify, page, screen, group, alias

    /// The type a single-message path names: `/v1/track` or its one-letter alias `/v1/t`.
    public init?(path: String) {
        if let full = EventType(rawValue: path) {
            self = full
            return
        }
        guard let match = EventType.allCases.first(where: { path.count == 1 && $0.rawValue.hasPrefix(path) }) else {
            return nil
        }
        self = match
    }
}

/// A behaviour event as Tagflow keeps it: validated, its time corrected, its identifiers extracted.
public struct Event: Sendable, Equatable {
    /// The sender's de-duplication key, if it sent one.
    public var messageId: String?
    public var type: EventType
    /// The `event` of a track, the `name` of a page or screen.
    public var name: String?
    public var userId: String?
    public var anonymousId: String?
    /// The identifier an `alias` call renames from.
    public var previousId: String?
    /// When it happened, corrected for the sender's clock skew.
    public var timestamp: EpochMillis
    /// When Tagflow received it.
    public var receivedAt: EpochMillis
    /// The sender's clock put it too far in the future; `timestamp` was clamped to `receivedAt`.
    public var clampedFromFuture: Bool
    /// Every usable identifier the message carries (junk values already dropped).
    public var identifiers: [Identifier]
    /// Traits the message sets on the person (identify calls).
    public var traits: JSONObject
    /// The message as stored: what was sent, with the batch envelope's context merged in and the type its
    /// path named. Corrected time, receive time and the clamp flag are kept beside it, not in it.
    public let payload: JSONObject
    /// `payload` as JSON text in UTF-8, written once (or the text it was parsed from, not copied): what the
    /// log stores.
    public let payloadUTF8: ArraySlice<UInt8>

    /// `payload` as JSON text.
    public var payloadJSON: String { String(decoding: payloadUTF8, as: UTF8.self) }

    public init(
        messageId: String? = nil, type: EventType, name: String? = nil, userId: String? = nil,
        anonymousId: String? = nil, previousId: String? = nil, timestamp: EpochMillis, receivedAt: EpochMillis,
        clampedFromFuture: Bool = false, identifiers: [Identifier], traits: JSONObject = JSONObject(),
        payload: JSONObject = JSONObject(), payloadUTF8: ArraySlice<UInt8>? = nil
    ) {
        self.messageId = messageId
        self.type = type
        self.name = name
        self.userId = userId
        self.anonymousId = anonymousId
        self.previousId = previousId
        self.timestamp = timestamp
        self.receivedAt = receivedAt
        self.clampedFromFuture = clampedFromFuture
        self.identifiers = identifiers
        self.traits = traits
        self.payload = payload
        self.payloadUTF8 = payloadUTF8 ?? JSONValue.object(payload).jsonUTF8
    }
}

/// Why one message of a request was not accepted into the log, and where it was.
public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// Position of the message in its batch (0 for a single-message call).
    public var position: Int
    /// A stable machine-readable reason, such as `no_user_anon_id` or `invalid_field`.
    public var code: String
    /// The field at fault, when there is one (`userId`, `properties`, `context.device.id`).
    public var field: String?
    /// A sentence a person understands.
    public var message: String

    public init(position: Int, code: String, field: String? = nil, message: String) {
        self.position = position
        self.code = code
        self.field = field
        self.message = message
    }

    public var description: String {
        "message \(position): \(message)" + (field.map { " (field `\($0)`)" } ?? "")
    }
}
