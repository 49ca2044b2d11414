/// Which events an automation forwards: an event name (or `any`) and, optionally, a condition on the event's
/// properties in the rule language — what goes inside `where` in a rule (`amount >= 1000 and project = "玻尿酸"`).
public struct EventFilter: Sendable {
    let selector: EventSelector
    let condition: ExprCode?
    let patterns: [RulePattern]

    /// Compiles the filter; a condition that does not check throws ``RuleError`` with every problem.
    public init(event: String, where condition: String?) throws {
        let selector = event == "any" ? "any" : JSONValue.string(event).jsonString
        let text = "tag forwarded\n  when exists(\(selector)" + (condition.map { " where \($0)" } ?? "") + ")"
        let tagSet: TagSet
        do {
            tagSet = try RuleCompiler.compileOrThrow([RuleSource(name: "trigger", text: text)])
        } catch let error as RuleError {
            // Point into the condition itself rather than the text it was wrapped in.
            let offset = "  when exists(\(selector) where ".count
            throw RuleError(error.diagnostics.map { diagnostic in
                var d = diagnostic
                d.file = "where"
                d.tag = nil
                if d.line == 2 { d.line = 1; d.column = max(1, d.column - offset) }
                return d
            })
        }
        guard let feature = tagSet.features.first(where: { if case .aggregate = $0.kind { true } else { false } }) else {
            throw RuleError([RuleDiagnostic(at: SourceLocation(line: 1, column: 1), "the event filter did not compile")])
        }
        self.selector = feature.selector
        self.condition = feature.filter.map(ExprCode.init)
        patterns = tagSet.patterns
    }

    public func matches(_ event: RuleEvent) -> Bool {
        guard selector.matches(event.name) else { return false }
        guard let condition else { return true }
        var context = EventContext(event: event, patterns: patterns)
        return condition.evaluate(in: &context).isTrue
    }
}
