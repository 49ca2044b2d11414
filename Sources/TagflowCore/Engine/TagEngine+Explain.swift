/// Why a profile has a tag, or not: the rule's parts with their current values and the events behind
/// them, and when the tag will next change if nothing else happens.
public struct TagExplanation: Sendable, Hashable, Encodable {
    /// One part of the rule.
    public struct Node: Sendable, Hashable, Codable {
        /// The part as the rule language writes it.
        public var expression: String
        /// Its value now, as JSON.
        public var value: JSONValue
        /// Log sequence numbers of the events it counts (windowed aggregates and first/last values).
        public var events: [Int64]
        public var children: [Node]
    }

    public var tag: String
    public var profile: ProfileID
    public var at: EpochMillis
    /// The tag's value now; null when the profile does not have it.
    public var value: JSONValue
    public var since: EpochMillis?
    /// For `case` tags: which case matched (or `else`).
    public var matchedCase: String?
    public var conditions: [Node]
    /// The first moment time alone can change the tag; nil when only events can.
    public var nextChange: EpochMillis?

    private enum CodingKeys: String, CodingKey { case tag, profile, at, value, since, matchedCase, conditions, nextChange }

    // Moments as the rest of the API writes them: ISO 8601 in UTC, to the millisecond.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tag, forKey: .tag)
        try c.encode(profile, forKey: .profile)
        try c.encode(Timestamp.format(at), forKey: .at)
        try c.encode(value, forKey: .value)
        try c.encodeIfPresent(since.map(Timestamp.format), forKey: .since)
        try c.encodeIfPresent(matchedCase, forKey: .matchedCase)
        try c.encode(conditions, forKey: .conditions)
        try c.encodeIfPresent(nextChange.map(Timestamp.format), forKey: .nextChange)
    }
}

extension TagEngine {
    /// Explains `tag` for `profile` at the engine's clock; nil for an unknown tag.
    public func explain(_ tag: String, for profile: ProfileID) -> TagExplanation? {
        guard let index = tagSet.index(of: tag) else { return nil }
        // The feature values read here are this profile's at this moment: none from before, none left after.
        clearFeatureCache()
        defer { clearFeatureCache() }
        let definition = tagSet.tags[index]
        let stored = profileState(profile)
        let state = stored ?? ProfileRef.allocate(capacity: 1)
        if stored == nil { state.initialize(to: ProfileState(profile, layout: layout)) }  // a profile the engine never saw
        defer {
            if stored == nil {
                state.deinitialize(count: 1)
                state.deallocate()
            }
        }
        let explainer = Explainer(engine: self, state: state, time: now)
        var conditions: [TagExplanation.Node] = []
        var matched: String?
        switch definition.rule {
        case .boolean(let e), .valued(let e):
            conditions.append(explainer.node(e))
        case .cases(let cases, let otherwise):
            for c in cases {
                let node = explainer.node(c.condition)
                conditions.append(TagExplanation.Node(
                    expression: "case \"\(c.value)\" when " + node.expression, value: node.value, events: node.events,
                    children: node.children))
                if matched == nil, node.value == .bool(true) { matched = c.value }
            }
            if matched == nil, let otherwise { matched = "else \"\(otherwise)\"" }
        }
        var context = ProfileEvaluation(engine: self, state: state, time: now)
        _ = definition.rule.value(in: &context)
        let current = self.value(of: tag, for: profile)
        return TagExplanation(
            tag: tag, profile: profile, at: now, value: current?.value.json ?? .null, since: current?.since,
            matchedCase: matched, conditions: conditions, nextChange: context.until == .max ? nil : context.until)
    }
}

/// Evaluates a rule part by part, for explanations.
private struct Explainer {
    let engine: TagEngine
    let state: ProfileRef
    let time: EpochMillis

    func node(_ expr: RuleExpr) -> TagExplanation.Node {
        var context = ProfileEvaluation(engine: engine, state: state, time: time)
        let value = expr.evaluate(in: &context)
        var events: [Int64] = []
        if case .feature(let index) = expr { events = engine.eventsBehind(feature: index, of: state, at: time) }
        let children: [RuleExpr] = switch expr {
        case .and(let a, let b), .or(let a, let b), .compare(_, let a, let b), .arithmetic(_, let a, let b): [a, b]
        case .not(let a): [a]
        case .function(_, let args): args
        default: []
        }
        return TagExplanation.Node(
            expression: engine.render(expr), value: value.json, events: events,
            children: children.filter { !$0.isLiteral }.map(node))
    }
}

extension RuleExpr {
    var isLiteral: Bool {
        if case .literal = self { return true }
        return false
    }
}

extension TagEngine {
    /// The expression as the rule language writes it, features spelled out.
    /// (The engine's own tag ids: a writer made for each part of an explanation copies nothing.)
    func render(_ expr: RuleExpr) -> String {
        RuleWriter(features: tagSet.features, tags: tagIDs, patterns: patterns).write(expr)
    }
}
