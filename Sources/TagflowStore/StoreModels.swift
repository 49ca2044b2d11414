import TagflowCore

/// Where one request's messages came from and what they were.
public struct IngestSubmission: Sendable {
    public var sourceID: Int64
    public var receivedAt: EpochMillis
    public var events: [Event]
    public var rejections: [QuarantinedMessage]
    /// Set when this submission replays a quarantined message: its quarantine entry is closed in the same commit.
    public var replayOf: Int64?

    public init(sourceID: Int64, receivedAt: EpochMillis, events: [Event], rejections: [QuarantinedMessage] = [],
                replayOf: Int64? = nil) {
        self.sourceID = sourceID
        self.receivedAt = receivedAt
        self.events = events
        self.rejections = rejections
        self.replayOf = replayOf
    }

    public var messageCount: Int { events.count + rejections.count }
}

/// A message that could not be accepted, kept with the reason so it can be fixed and replayed.
public struct QuarantinedMessage: Sendable {
    public var rejection: Rejection
    public var payload: JSONValue

    public init(rejection: Rejection, payload: JSONValue) {
        self.rejection = rejection
        self.payload = payload
    }
}

/// What the log did with one submission, once it is durable.
public struct IngestReceipt: Sendable, Equatable {
    public var accepted = 0
    public var deduplicated = 0
    public var quarantined = 0

    public init() {}
}

/// A source of events (web, mini-program, app, store, import) and the write key it sends with.
public struct Source: Sendable, Codable, Equatable {
    public var id: Int64
    public var name: String
    public var writeKey: String
    public var createdAt: String
    public var revokedAt: String?
}

/// An event as read back from the log.
public struct StoredEvent: Sendable, Codable, Equatable {
    public var seq: Int64
    public var messageId: String?
    public var sourceId: Int64
    public var type: String
    public var name: String?
    public var profileId: ProfileID
    public var timestamp: String
    public var receivedAt: String
    public var clampedFromFuture: Bool
    public var payload: JSONValue
}

/// A profile as the admin API shows it.
public struct ProfileView: Sendable, Codable, Equatable {
    public struct LinkedIdentifier: Sendable, Codable, Equatable {
        public var type: String
        public var value: String
        public var linkedAt: String
    }

    public var id: ProfileID
    /// Set when the requested profile was merged into another; the rest describes the survivor.
    public var requestedId: ProfileID?
    public var createdAt: String
    public var firstSeen: String?
    public var lastSeen: String?
    public var eventCount: Int64
    public var identifiers: [LinkedIdentifier]
    public var traits: JSONValue
    public var merges: [MergeRecord]
}

/// A merge of two profiles, or a refused link, as recorded.
public struct MergeRecord: Sendable, Codable, Equatable {
    public var id: Int64
    public var at: String
    public var eventSeq: Int64?
    public var survivor: ProfileID
    public var loser: ProfileID?
    public var identifierType: String
    public var identifierValue: String
    public var accepted: Bool
    public var reason: String?
}

/// A quarantined message as the admin API shows it.
public struct QuarantineEntry: Sendable, Codable, Equatable {
    public var id: Int64
    public var receivedAt: String
    public var sourceId: Int64?
    public var position: Int
    public var code: String
    public var field: String?
    public var message: String
    public var status: String
    public var payload: JSONValue
    public var replayedSeq: Int64?
}

/// Counts for `/api/stats`.
public struct StoreStats: Sendable, Codable, Equatable {
    public var eventsAccepted: Int64
    public var eventsDeduplicated: Int64
    public var eventsQuarantined: Int64
    public var quarantinePending: Int64
    public var profiles: Int64
    public var identifiers: Int64
    public var mergesAccepted: Int64
    public var mergesRefused: Int64
    public var lastSequence: Int64
}

/// Failures of the store, with what an operator needs to find the cause.
public enum StoreError: Error, CustomStringConvertible {
    case notFound(String)
    case conflict(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .notFound(let what): "not found: \(what)"
        case .conflict(let what): "conflict: \(what)"
        case .invalid(let what): "invalid: \(what)"
        }
    }
}
