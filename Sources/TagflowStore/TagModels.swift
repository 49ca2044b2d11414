import TagflowCore

/// One version of a tag definition as stored.
public struct TagDefinitionRecord: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        case active, disabled, deleted
        /// A segment whose tag (or segment) was deleted or disabled: kept, out of service, until it is
        /// edited or the tag comes back and it is enabled again.
        case broken
    }

    public var id: String
    public var version: Int
    public var displayName: String
    public var category: String
    public var description: String
    public var owner: String
    /// `boolean`, `cases` or `value`.
    public var kind: String
    public var source: String
    public var status: Status
    public var createdAt: String
    public var author: String
    /// How many profiles have the tag now (active tags only).
    public var members: Int?
    /// What is wrong with a broken segment.
    public var problem: String?
}

/// What applying tag definitions does, or would do (a dry run).
public struct TagPlan: Sendable, Codable, Equatable {
    public struct Entry: Sendable, Codable, Equatable {
        /// `create`, `edit`, `disable`, `enable`, `delete`, `break` (a segment whose tag went away) or
        /// `unchanged`.
        public var action: String
        public var tag: String
        /// The version the change makes (the current one when unchanged).
        public var version: Int
        public var membersBefore: Int
        public var membersAfter: Int
        public var gained: Int
        public var lost: Int
        /// Profiles that keep the tag with another value (valued tags).
        public var changed: Int
        public var gainedSample: [ProfileID]
        public var lostSample: [ProfileID]
    }

    public var applied: Bool
    public var diagnostics: [RuleDiagnostic]
    public var entries: [Entry]

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// What to do to the tag definitions.
public enum TagDefinitionChange: Sendable {
    /// Create the tags the texts define, or make new versions of those that exist and differ.
    case upsert([RuleSource])
    /// The same, and delete every active tag the texts do not define.
    case replaceAll([RuleSource])
    case disable(String)
    case enable(String)
    case delete(String)
}

/// An entry of the definitions' audit log.
public struct TagAuditEntry: Sendable, Codable, Equatable {
    public var id: Int64
    public var at: String
    public var actor: String
    public var action: String
    public var tag: String
    public var version: Int
    public var before: String?
    public var after: String?
}

/// A profile's tag, as stored.
public struct ProfileTag: Sendable, Codable, Equatable {
    public var tag: String
    public var value: JSONValue
    public var since: String
}

/// A profile having a tag, for member lists.
public struct TagMember: Sendable, Codable, Equatable {
    public var profile: ProfileID
    public var value: JSONValue
    public var since: String
}

/// One recorded tag change.
public struct TagHistoryEntry: Sendable, Codable, Equatable {
    public var id: Int64
    public var profile: ProfileID
    public var tag: String
    public var old: JSONValue?
    public var new: JSONValue?
    public var at: String
    /// `event`, `time`, `merge`, `definition` or `recovery`.
    public var cause: String
    /// The event's log number for `event`, the other profile for `merge`.
    public var causeRef: Int64?
    /// When Tagflow recorded it (for `time` changes, a little after `at`).
    public var recordedAt: String
}

/// Tag problems an API caller can fix.
public enum TagError: Error, Sendable, Equatable {
    case unknownTag(String)
    case invalidRules([RuleDiagnostic])
}
