/// The fields a batch envelope shares with each of its messages.
public struct Envelope: Sendable, Equatable {
    public var sentAt: JSONValue?
    public var context: JSONObject?
    public var integrations: JSONObject?

    public init(sentAt: JSONValue? = nil, context: JSONObject? = nil, integrations: JSONObject? = nil) {
        self.sentAt = sentAt
        self.context = context
        self.integrations = integrations
    }
}

/// Limits and tolerances of the ingestion contract.
public struct IngestLimits: Sendable, Equatable {
    /// Largest accepted message, as compact JSON.
    public var maxEventBytes: Int
    /// Largest accepted request body, after gunzip.
    public var maxRequestBytes: Int
    /// Most messages in one batch.
    public var maxBatchEvents: Int
    /// A timestamp further than this ahead of the receive time is clamped to the receive time and flagged.
    public var futureTolerance: EpochMillis

    public init(
        maxEventBytes: Int = 32 * 1024, maxRequestBytes: Int = 500 * 1024, maxBatchEvents: Int = 2500,
        futureTolerance: EpochMillis = 5 * 60 * 1000
    ) {
        self.maxEventBytes = maxEventBytes
        self.maxRequestBytes = maxRequestBytes
        self.maxBatchEvents = maxBatchEvents
        self.futureTolerance = futureTolerance
    }
}

/// Turns one message of a request into an `Event`, or says exactly why it cannot be one.
public struct MessageNormalizer: Sendable {
    public var limits: IngestLimits
    public var policy: IdentityPolicy

    public init(limits: IngestLimits = IngestLimits(), policy: IdentityPolicy = .standard) {
        self.limits = limits
        self.policy = policy
    }

    /// Validates and normalises `value`, the message at `position` of its request.
    /// - Parameters:
    ///   - pathType: the type named by a single-message path (`/v1/track`); nil for batch items.
    ///   - sourceName: scopes WeChat openids that arrive without an app id.
    public func normalize(
        _ value: JSONValue, position: Int, pathType: EventType?, envelope: Envelope, receivedAt: EpochMillis,
        sourceName: String
    ) -> Result<Event, Rejection> {
        do {
            return .success(try event(from: value, position: position, pathType: pathType, envelope: envelope,
                                      receivedAt: receivedAt, sourceName: sourceName))
        } catch {
            return .failure(error)
        }
    }

    private func event(
        from value: JSONValue, position: Int, pathType: EventType?, envelope: Envelope, receivedAt: EpochMillis,
        sourceName: String
    ) throws(Rejection) -> Event {
        func reject(_ code: String, _ field: String?, _ message: String) -> Rejection {
            Rejection(position: position, code: code, field: field, message: message)
        }
        guard case .object(var message) = value else {
            throw reject("not_an_object", nil, "a message must be a JSON object, not a \(value.kindName)")
        }

        let type: EventType
        if let pathType {
            type = pathType
        } else {
            switch message["type"] {
            case nil, .null?:
                throw reject("missing_type", "type", "the message has no `type` (track, identify, page, screen, group or alias)")
            case .string(let raw)?:
                guard let known = EventType(rawValue: raw) else {
                    throw reject("unknown_type", "type", "unknown message type \"\(raw)\"; expected track, identify, page, screen, group or alias")
                }
                type = known
            case let other?:
                throw reject("invalid_field", "type", "`type` must be a string, not a \(other.kindName)")
            }
        }
        if message["type"] != .string(type.rawValue) { message["type"] = .string(type.rawValue) }

        // Envelope context and integrations fill in what the message does not say itself.
        func fillIn(_ key: String, from shared: JSONObject?) {
            guard let shared else { return }
            switch message[key] {
            case nil, .null?: message[key] = .object(shared)
            case .object(var own)?:
                for field in shared.fields where own[field.key] == nil { own.fields.append(field) }
                message[key] = .object(own)
            default: break
            }
        }
        fillIn("context", from: envelope.context)
        fillIn("integrations", from: envelope.integrations)

        for key in ["properties", "traits", "context", "integrations"] {
            if let field = message[key], !field.isNull, field.objectValue == nil {
                throw reject("invalid_field", key, "`\(key)` must be an object, not a \(field.kindName)")
            }
        }

        func identity(_ key: String) throws(Rejection) -> String? {
            switch message[key] {
            case nil, .null?: return nil
            case .string(let s)?: return s.isEmpty ? nil : s
            case let number? where IdentifierExtraction.scalarString(number) != nil:
                return IdentifierExtraction.scalarString(number)
            case let other?:
                throw reject("invalid_field", key, "`\(key)` must be a string or a number, not a \(other.kindName)")
            }
        }
        let userId = try identity("userId")
        let anonymousId = try identity("anonymousId")
        guard userId != nil || anonymousId != nil else {
            throw reject("no_user_anon_id", "userId", "the message has neither `userId` nor `anonymousId`")
        }

        var messageId: String?
        switch message["messageId"] {
        case nil, .null?: messageId = nil
        case .string(let s)?:
            guard s.utf8.count <= 100 else {
                throw reject("invalid_field", "messageId", "`messageId` is longer than 100 characters")
            }
            messageId = s.isEmpty ? nil : s
        case let other?:
            throw reject("invalid_field", "messageId", "`messageId` must be a string, not a \(other.kindName)")
        }

        var name: String?
        switch type {
        case .track:
            guard case .string(let event)? = message["event"], !event.trimmingWhitespace().isEmpty else {
                throw reject("missing_event", "event", "a track message needs a non-empty string `event`")
            }
            name = event
        case .page, .screen:
            switch message["name"] {
            case nil, .null?: name = nil
            case .string(let s)?: name = s
            case let other?: throw reject("invalid_field", "name", "`name` must be a string, not a \(other.kindName)")
            }
        default:
            name = nil
        }

        var previousId: String?
        if type == .alias {
            previousId = try identity("previousId")
            guard previousId != nil else {
                throw reject("invalid_field", "previousId", "an alias message needs `previousId`")
            }
        }
        if type == .group, (try identity("groupId")) == nil {
            throw reject("invalid_field", "groupId", "a group message needs `groupId`")
        }

        func time(_ key: String, _ value: JSONValue?) throws(Rejection) -> EpochMillis? {
            switch value {
            case nil, .null?: return nil
            case .string(let s)?:
                guard let parsed = Timestamp.parse(s) else {
                    throw reject("invalid_timestamp", key, "`\(key)` \"\(s)\" is not an ISO 8601 timestamp")
                }
                return parsed
            case .int(let i)?: return i < 100_000_000_000 ? i * 1000 : i
            case .double(let d)?: return d < 100_000_000_000 ? EpochMillis(d * 1000) : EpochMillis(d)
            case let other?:
                throw reject("invalid_timestamp", key, "`\(key)` must be an ISO 8601 string, not a \(other.kindName)")
            }
        }
        let explicit = try time("timestamp", message["timestamp"])
        let original = try time("originalTimestamp", message["originalTimestamp"])
        var sentAt = try time("sentAt", message["sentAt"])
        if sentAt == nil { sentAt = try time("sentAt", envelope.sentAt) }
        var timestamp: EpochMillis
        if let explicit {
            timestamp = explicit
        } else if let original, let sentAt {
            timestamp = receivedAt - (sentAt - original)
        } else {
            timestamp = original ?? receivedAt
        }
        var clamped = false
        if timestamp > receivedAt + limits.futureTolerance {
            timestamp = receivedAt
            clamped = true
        }

        let identifiers = IdentifierExtraction.identifiers(
            in: message, userId: userId, anonymousId: anonymousId, sourceName: sourceName, policy: policy)
        guard !identifiers.isEmpty else {
            throw reject("no_usable_identifier", userId != nil ? "userId" : "anonymousId",
                         "every identifier of the message is a placeholder such as \"null\", \"undefined\" or \"0\"")
        }

        let text = JSONValue.object(message).jsonUTF8
        let size = text.count
        guard size <= limits.maxEventBytes else {
            throw reject("event_too_large", nil, "the message is \(size) bytes; the limit is \(limits.maxEventBytes)")
        }

        let traits = type == .identify ? IdentifierExtraction.personTraits(of: message) : JSONObject()
        return Event(
            messageId: messageId, type: type, name: name, userId: userId, anonymousId: anonymousId,
            previousId: previousId.flatMap { policy.isJunk($0) ? nil : $0 }, timestamp: timestamp,
            receivedAt: receivedAt, clampedFromFuture: clamped, identifiers: identifiers, traits: traits,
            payload: message, payloadUTF8: text)
    }
}
