import TagflowCore

/// A receiver of change events: an HTTP endpoint (a marketing-automation system, a CDP, a bot) that gets
/// each change signed per Standard Webhooks.
public struct Destination: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        case active, disabled
    }

    public var id: Int64
    public var name: String
    public var url: String
    /// Sent with every request (an API key of the receiver, say).
    public var headers: [String: String]
    /// `whsec_` + base64 of the signing key.
    public var secret: String
    /// The secret before the last rotation, still signing (as a second signature) until `previousSecretUntil`.
    public var previousSecret: String?
    public var previousSecretUntil: String?
    /// A Mustache template for the request body, rendered from the change event (`{{type}}`,
    /// `{{data.name}}`, `{{data.profile.id}}`...); values are escaped for JSON strings. Nil: the event's JSON.
    public var template: String?
    /// The consent purpose it serves (`marketing`): profiles that withdrew it are not sent to it.
    public var purpose: String?
    /// At most this many requests a second (nil: as fast as the receiver answers).
    public var rateLimit: Int?
    public var timeoutMs: Int
    public var status: Status
    /// Why it is disabled: by an operator, or by the receiver answering 410 Gone.
    public var statusReason: String?
    public var createdAt: String
    public var updatedAt: String
}

/// What a destination is created or changed with; absent fields keep their value (or take the default).
public struct DestinationInput: Sendable {
    public var name: String?
    public var url: String?
    public var headers: [String: String]?
    public var secret: String?
    public var timeoutMs: Int?
    /// A body template; the empty text removes it.
    public var template: String?
    /// A consent purpose; the empty text removes it.
    public var purpose: String?
    /// Requests per second at most; 0 removes the limit.
    public var rateLimit: Int?

    public init(name: String? = nil, url: String? = nil, headers: [String: String]? = nil, secret: String? = nil,
                timeoutMs: Int? = nil, template: String? = nil, purpose: String? = nil, rateLimit: Int? = nil) {
        self.purpose = purpose
        self.rateLimit = rateLimit
        self.name = name
        self.url = url
        self.headers = headers
        self.secret = secret
        self.timeoutMs = timeoutMs
        self.template = template
    }
}

/// When a change is sent where: a trigger on one tag or segment, and a destination.
public struct Automation: Sendable, Codable, Equatable {
    public var id: Int64
    public var name: String
    public var trigger: AutomationTrigger
    public var destination: Int64
    public var enabled: Bool
    public var createdAt: String
}

/// The change an automation reacts to.
public struct AutomationTrigger: Sendable, Codable, Equatable {
    /// `tag.added`, `tag.removed`, `tag.changed`, `segment.entered`, `segment.exited`, `profile.merged`, or
    /// `event` (raw events forwarded as they arrive).
    public var on: String
    /// The tag (for `tag.*`) or segment (for `segment.*`).
    public var tag: String?
    public var segment: String?
    /// Only changes to this value (`tag.added`, `tag.changed`).
    public var value: JSONValue?
    /// For `event`: the event name (or `any`), and a condition on its properties in the rule language.
    public var event: String?
    public var condition: String?

    enum CodingKeys: String, CodingKey {
        case on, tag, segment, value, event
        case condition = "where"
    }

    public static let kinds = [
        "tag.added", "tag.removed", "tag.changed", "segment.entered", "segment.exited", "profile.merged", "event",
    ]

    public init(on: String, tag: String? = nil, segment: String? = nil, value: JSONValue? = nil, event: String? = nil,
                condition: String? = nil) {
        self.on = on
        self.tag = tag
        self.segment = segment
        self.value = value
        self.event = event
        self.condition = condition
    }

    /// The tag or segment it watches (none for `profile.merged` and `event`).
    var subject: String? { on == "profile.merged" || on == "event" ? nil : on.hasPrefix("segment.") ? segment : tag }

    /// Whether `change` (of a tag, or of a segment when `isSegment`) is one this trigger reacts to.
    func matches(_ change: TagChange, isSegment: Bool) -> Bool {
        guard change.tag == subject, on.hasPrefix("segment.") == isSegment else { return false }
        if let value, change.new?.json != value { return false }
        switch on {
        case "tag.added", "segment.entered": return change.old == nil && change.new != nil
        case "tag.removed", "segment.exited": return change.old != nil && change.new == nil
        case "tag.changed": return change.old != nil && change.new != nil && change.old != change.new
        default: return false
        }
    }
}

/// One change for one destination, as kept in the outbox until it is delivered.
public struct OutboxMessage: Sendable, Codable, Equatable {
    public var id: Int64
    /// `msg_<id>`: the `webhook-id`, the same on every attempt, for the receiver to drop duplicates.
    public var webhookID: String { "msg_\(id)" }
    public var destination: Int64
    public var profile: ProfileID
    public var type: String
    public var body: String
    public var createdAt: EpochMillis
    /// `pending`, `delivered`, `skipped` (consent withdrawn) or `dead`.
    public var status: String
    public var attempts: Int
    /// When it is due; `waiting` while an earlier message of its (destination, profile) pair is pending.
    public var nextAttemptAt: EpochMillis
    public var lastStatus: Int?
    public var lastError: String?

    /// The `nextAttemptAt` of a message waiting behind an earlier one of its pair.
    public static let waiting = Int64.max
}

/// How one attempt went.
public struct DeliveryOutcome: Sendable {
    /// The receiver's HTTP status; nil when there was no answer (refused, timed out).
    public var status: Int?
    public var latencyMs: Int64
    public var error: String?
    /// The receiver's `Retry-After`, in milliseconds.
    public var retryAfterMs: Int64?
    /// Not sent at all: the profile withdrew the destination's consent purpose (`error` says which).
    public var skipped = false

    public init(status: Int?, latencyMs: Int64, error: String? = nil, retryAfterMs: Int64? = nil) {
        self.status = status
        self.latencyMs = latencyMs
        self.error = error
        self.retryAfterMs = retryAfterMs
    }

    /// A message not sent because the profile withdrew consent for `purpose`.
    public static func consentWithdrawn(_ purpose: String) -> DeliveryOutcome {
        var outcome = DeliveryOutcome(status: nil, latencyMs: 0, error: "not sent: the profile withdrew consent for `\(purpose)`")
        outcome.skipped = true
        return outcome
    }

    public var succeeded: Bool { status.map { (200..<300).contains($0) } ?? false }
}

/// One attempt, as logged.
public struct DeliveryAttempt: Sendable, Codable, Equatable {
    public var id: Int64
    public var message: Int64
    public var webhookID: String
    public var attempt: Int
    public var at: String
    public var status: Int?
    public var latencyMs: Int64
    public var error: String?
}

/// When to try again: after each failed attempt, the next wait (the last attempt is the one after the final
/// wait), and how old a message may grow before it is given up.
public struct RetryPolicy: Sendable, Codable, Equatable {
    /// Waits after the 1st, 2nd… failure, in milliseconds; jittered ±20 %.
    public var waitsMs: [Int64]
    /// A message older than this is given up (dead-lettered) at its next failure.
    public var maxAgeMs: Int64

    /// Standard Webhooks' schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (ten attempts over
    /// about three days).
    public static let standard = RetryPolicy(
        waitsMs: [5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400].map { $0 * 1000 },
        maxAgeMs: 3 * 86_400_000)

    public init(waitsMs: [Int64], maxAgeMs: Int64) {
        self.waitsMs = waitsMs
        self.maxAgeMs = maxAgeMs
    }
}

/// One destination's delivery figures, for `/metrics`.
public struct DestinationMetrics: Sendable, Equatable {
    public var name: String
    public var active: Bool
    public var pending: Int64
    public var dead: Int64
    public var succeeded: Int64
    public var failed: Int64
    public var skipped: Int64
    /// Summed over every sent attempt (`succeeded + failed` of them).
    public var latencyMsSum: Int64
}

/// Delivery problems an API caller can fix.
public enum DeliveryError: Error, Sendable, Equatable {
    case unknownDestination(String)
    case unknownAutomation(Int64)
    case invalid(String)
}
