import TagflowCore

/// A profile in a segment (or having a tag), with its identifiers, for member pages and exports.
public struct SegmentMember: Sendable, Codable, Equatable {
    public struct Identifier: Sendable, Codable, Equatable {
        public var type: String
        public var value: String
    }

    public var profile: ProfileID
    /// Since when it has been a member.
    public var since: String
    /// The tag's value, for valued tags (absent for segments and boolean tags).
    public var value: JSONValue?
    public var identifiers: [Identifier]
}

/// One profile entering or leaving a segment.
public struct SegmentTransition: Sendable, Codable, Equatable {
    public var id: Int64
    public var profile: ProfileID
    /// `entered` or `exited`.
    public var transition: String
    public var at: String
    /// `event`, `time`, `merge`, `definition` or `recovery` (see tag history).
    public var cause: String
    public var causeRef: Int64?
}

/// A segment's size at the end of each period.
public struct SizePoint: Sendable, Codable, Equatable {
    /// The period's start, in the workspace time zone.
    public var period: String
    public var size: Int
    public var entered: Int
    public var exited: Int
}

/// How a set of segments and tags overlap.
public struct Overlap: Sendable, Codable, Equatable {
    public struct Pair: Sendable, Codable, Equatable {
        public var a: String
        public var b: String
        public var both: Int
        public var either: Int
        /// both / either (0 when both are empty).
        public var jaccard: Double
    }

    /// Each name's size.
    public var sizes: [String: Int]
    public var pairs: [Pair]
    /// Profiles in all of them at once.
    public var all: Int
    /// Profiles in at least one of them.
    public var any: Int
}

/// The overlap of every pair of tags, with what looks redundant.
public struct TagGovernance: Sendable, Codable, Equatable {
    public struct Finding: Sendable, Codable, Equatable {
        /// `near_duplicate`, `nobody` or `everybody`.
        public var kind: String
        public var tags: [String]
        public var detail: String
    }

    public var profiles: Int
    /// Boolean tags by id, valued tags value by value (`lifecycle=沉睡`).
    public var tags: [String]
    /// `members[i]`: how many profiles have `tags[i]`.
    public var members: [Int]
    /// `both[i][j]`: how many profiles have both `tags[i]` and `tags[j]`.
    public var both: [[Int]]
    public var findings: [Finding]
}

/// What a segment would hold, worked out without changing anything.
public struct SegmentPreview: Sendable, Codable, Equatable {
    /// `bitmaps` (set algebra over the tags' current members: instant) or `replay` (back-filled over the
    /// event history, for segments that read traits or events).
    public var method: String
    public var diagnostics: [RuleDiagnostic]
    public var size: Int
    public var gained: Int
    public var lost: Int
    public var sample: [ProfileID]
}

/// Segment problems an API caller can fix.
public enum SegmentError: Error, Sendable, Equatable {
    case unknown(String)
    case notASegment(String)
    case broken(String, problem: String)
}
