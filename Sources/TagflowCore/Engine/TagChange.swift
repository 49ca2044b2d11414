/// Why a tag changed.
public enum TagChangeCause: Sendable, Hashable, CustomStringConvertible {
    /// An event arrived (its log sequence number).
    case event(seq: Int64)
    /// Time passed: a window slid or a day ended.
    case time
    /// Another profile merged into this one (OneID), or this one merged away.
    case merge(from: ProfileID, into: ProfileID)
    /// The tag's definition was created or edited and back-filled.
    case definition
    /// A restart found the stored state behind the event log and caught up.
    case recovery

    public var description: String {
        switch self {
        case .event(let seq): "event #\(seq)"
        case .time: "time"
        case .merge(let from, let into): "merge \(from) → \(into)"
        case .definition: "definition"
        case .recovery: "recovery"
        }
    }

    /// The machine-readable kind: `event`, `time`, `merge`, `definition`.
    public var kind: String {
        switch self {
        case .event: "event"
        case .time: "time"
        case .merge: "merge"
        case .definition: "definition"
        case .recovery: "recovery"
        }
    }
}

/// One profile gaining, losing or changing the value of one tag.
public struct TagChange: Sendable, Hashable, CustomStringConvertible {
    public var profile: ProfileID
    public var tag: String
    /// The value before; nil when the profile did not have the tag.
    public var old: RuleValue?
    /// The value after; nil when the profile no longer has the tag.
    public var new: RuleValue?
    /// The moment the change took effect: the event's arrival, or the exact moment time made it.
    public var at: EpochMillis
    public var cause: TagChangeCause

    public init(profile: ProfileID, tag: String, old: RuleValue?, new: RuleValue?, at: EpochMillis, cause: TagChangeCause) {
        self.profile = profile
        self.tag = tag
        self.old = old
        self.new = new
        self.at = at
        self.cause = cause
    }

    public var description: String {
        "\(profile) \(tag): \(old?.description ?? "—") → \(new?.description ?? "—") at \(Timestamp.format(at)) (\(cause))"
    }
}

/// A tag a profile has, and since when it has had this value.
public struct TagState: Sendable, Hashable {
    public var tag: String
    public var value: RuleValue
    public var since: EpochMillis

    public init(tag: String, value: RuleValue, since: EpochMillis) {
        self.tag = tag
        self.value = value
        self.since = since
    }
}
