/// One problem found in a rule text: where, what, and what to do about it.
public struct RuleDiagnostic: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Severity: String, Sendable, Codable {
        /// The tag set is refused.
        case error
        /// Accepted, but probably not what was meant.
        case warning
    }

    public var severity: Severity
    /// The tag or segment the problem is in, when it is inside one.
    public var tag: String?
    /// The file the text came from, when it came from one.
    public var file: String?
    public var line: Int
    public var column: Int
    public var message: String
    /// What the author probably meant ("did you mean `view_item`?").
    public var suggestion: String?

    public init(
        _ severity: Severity = .error, at location: SourceLocation, _ message: String, tag: String? = nil,
        suggestion: String? = nil
    ) {
        self.severity = severity
        self.tag = tag
        self.line = location.line
        self.column = location.column
        self.message = message
        self.suggestion = suggestion
    }

    public var location: SourceLocation { SourceLocation(line: line, column: column) }

    /// `file:3:14: error: unknown event `veiw_item` (did you mean `view_item`?)`
    public var description: String {
        var text = (file.map { $0 + ":" } ?? "") + "\(line):\(column): \(severity.rawValue): "
        if let tag { text += "in `\(tag)`: " }
        text += message
        if let suggestion { text += " (\(suggestion))" }
        return text
    }
}

/// Rule texts that do not parse or check: every problem at once.
public struct RuleError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [RuleDiagnostic]

    public init(_ diagnostics: [RuleDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// The known word closest to a misspelt one, if one is close enough to be a likely typo.
public func closestMatch(to word: String, in candidates: some Sequence<String>) -> String? {
    let lowered = word.lowercased()
    var best: (candidate: String, rank: (Int, Int, String))?
    for candidate in candidates {
        let distance = editDistance(lowered, candidate.lowercased())
        let limit = candidate.count <= 3 ? 1 : candidate.count <= 8 ? 2 : 3
        // Closest first; among equals, the one of the same length, then alphabetical: deterministic.
        let rank = (distance, abs(candidate.count - word.count), candidate)
        if distance <= limit, best.map({ rank < $0.rank }) ?? true { best = (candidate, rank) }
    }
    return best?.candidate
}

/// Levenshtein distance with adjacent transpositions counted as one edit (`veiw` → `view`).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous2 = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                current[j] = min(current[j], previous2[j - 2] + 1)
            }
        }
        (previous2, previous, current) = (previous, current, previous2)
    }
    return previous[b.count]
}
