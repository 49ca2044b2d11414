/// Parses tag definitions. A syntax error skips to the next clause, so one pass reports every problem.
///
/// ```
/// tag high_intent_hyaluronic "高意向-玻尿酸"
///   category interest
///   when count(view_item where project = "玻尿酸") in last 3 days >= 3
/// ```
struct RuleParser {
    static let clauseKeywords: Set<String> = [
        "tag", "segment", "category", "description", "owner", "when", "case", "else", "value",
    ]
    /// The words that start a definition.
    static let definitionKeywords: Set<String> = ["tag", "segment"]
    static let aggregateFunctions: Set<String> = [
        "count", "sum", "avg", "min", "max", "distinct", "top", "first", "last", "first_time", "last_time",
        "exists", "sessions", "sequence",
    ]
    static let timeUnits: [String: Int64] = [
        "second": 1000, "seconds": 1000, "minute": 60_000, "minutes": 60_000, "hour": 3_600_000,
        "hours": 3_600_000, "day": 86_400_000, "days": 86_400_000, "week": 604_800_000, "weeks": 604_800_000,
    ]

    private var tokens: [RuleToken]
    private var position = 0
    private(set) var diagnostics: [RuleDiagnostic]
    private var currentTag: String?

    private struct Failure: Error {}

    init(_ text: String) {
        (tokens, diagnostics) = RuleLexer.tokens(of: text)
    }

    /// Every tag in the text, and every problem found on the way.
    static func parse(_ text: String) -> (tags: [TagSyntax], diagnostics: [RuleDiagnostic]) {
        var parser = RuleParser(text)
        let tags = parser.parseFile()
        return (tags, parser.diagnostics)
    }

    // MARK: - Tags and clauses

    private var token: RuleToken { tokens[position] }
    /// The token after the current one (the end token repeats at the end).
    private var next: RuleToken { tokens[min(position + 1, tokens.count - 1)] }

    private mutating func parseFile() -> [TagSyntax] {
        var tags: [TagSyntax] = []
        while token.kind != .end {
            if startsDefinition {
                if let tag = parseTag() { tags.append(tag) }
            } else {
                report("expected `tag <id> \"display name\"` (or `segment <id> ...`) to start a definition, found \(token.spelling)")
                repeat { skipToClause() } while token.kind != .end && !startsDefinition
            }
        }
        return tags
    }

    /// A `tag` or `segment` keyword at the start of a line (or of the text).
    private var startsDefinition: Bool {
        guard let word = token.word, Self.definitionKeywords.contains(word), !next.isSymbol(".") else { return false }
        return token.startsLine || position == 0
    }

    private mutating func parseTag() -> TagSyntax? {
        let keyword = token.word ?? "tag"
        position += 1
        guard let id = token.word, !Self.clauseKeywords.contains(id) || !token.startsLine else {
            report("expected the \(keyword)'s id after `\(keyword)` (letters, digits and _), found \(token.spelling)")
            skipToClause()
            return nil
        }
        var tag = TagSyntax(id: id, location: token.location)
        tag.isSegment = keyword == "segment"
        currentTag = id
        defer { currentTag = nil }
        position += 1
        if case .string(let name) = token.kind {
            tag.displayName = name
            position += 1
        }
        while token.kind != .end, !startsDefinition {
            guard let keyword = token.word, Self.clauseKeywords.contains(keyword),
                  !Self.definitionKeywords.contains(keyword) else {
                report(
                    "expected a clause (category, description, owner, when, case, else or value), found \(token.spelling)",
                    suggestion: token.word.flatMap(Self.clauseSuggestion))
                skipToClause()
                continue
            }
            do {
                try parseClause(keyword, into: &tag)
            } catch {
                tag.hasSyntaxErrors = true
                skipToClause()
            }
        }
        return tag
    }

    /// What a word found where a clause belongs was likely meant to be.
    private static func clauseSuggestion(for word: String) -> String? {
        if ["name", "title", "label", "display", "displayname", "名称"].contains(word.lowercased()) {
            return "a display name goes after the id, on the tag's first line: `tag <id> \"高意向-玻尿酸\"`"
        }
        let clauses = clauseKeywords.subtracting(definitionKeywords)
        return closestMatch(to: word, in: clauses).map { "did you mean `\($0)`?" }
    }

    private mutating func parseClause(_ keyword: String, into tag: inout TagSyntax) throws {
        let location = token.location
        if let previous = tag.clauseLocations[keyword], keyword != "case" {
            report("`\(keyword)` appears twice in this tag (first at line \(previous.line))", at: location)
        }
        tag.clauseLocations[keyword] = tag.clauseLocations[keyword] ?? location
        position += 1
        switch keyword {
        case "category":
            guard let name = token.word ?? token.stringLiteral else {
                try fail("expected a category name after `category`, such as `interest`")
            }
            tag.category = (name, token.location)
            position += 1
        case "description":
            tag.description = try stringLiteral(after: "description")
        case "owner":
            tag.owner = try stringLiteral(after: "owner")
        case "when":
            tag.when = try expression()
        case "case":
            let value = try stringLiteral(after: "case")
            guard token.isWord("when") else { try fail("expected `when <condition>` after the case's value") }
            position += 1
            tag.cases.append((value, try expression()))
        case "else":
            tag.otherwise = try stringLiteral(after: "else")
        default:
            tag.value = try expression()
        }
        if token.kind != .end, !token.startsLine {
            try fail("unexpected \(token.spelling) after the `\(keyword)` clause")
        }
    }

    private mutating func stringLiteral(after keyword: String) throws -> String {
        guard let text = token.stringLiteral else { try fail("expected text in quotes after `\(keyword)`") }
        position += 1
        return text
    }

    private mutating func skipToClause() {
        guard token.kind != .end else { return }
        position += 1
        while token.kind != .end {
            if token.startsLine, let word = token.word, Self.clauseKeywords.contains(word) { return }
            position += 1
        }
    }

    private mutating func report(_ message: String, at location: SourceLocation? = nil, suggestion: String? = nil) {
        diagnostics.append(RuleDiagnostic(
            at: location ?? token.location, message, tag: currentTag, suggestion: suggestion))
    }

    private mutating func fail(_ message: String, suggestion: String? = nil) throws -> Never {
        report(message, suggestion: suggestion)
        throw Failure()
    }

    /// True where an expression must stop: the end, or a clause keyword starting a line.
    private var atClauseBoundary: Bool {
        if token.kind == .end { return true }
        if token.startsLine, let word = token.word, Self.clauseKeywords.contains(word) { return true }
        return false
    }

    private mutating func takeWord(_ word: String) -> Bool {
        guard !atClauseBoundary, token.isWord(word) else { return false }
        position += 1
        return true
    }

    private mutating func takeSymbol(_ symbol: String) -> Bool {
        guard token.isSymbol(symbol) else { return false }
        position += 1
        return true
    }

    private mutating func expect(_ symbol: String, _ what: String) throws {
        guard takeSymbol(symbol) else { try fail("expected `\(symbol)` \(what), found \(token.spelling)") }
    }

    // MARK: - Expressions, loosest first

    mutating func expression() throws -> ExprSyntax {
        if atClauseBoundary { try fail("expected a condition or value, found \(token.spelling)") }
        var left = try andExpression()
        while case let location = token.location, takeWord("or") {
            left = ExprSyntax(kind: .binary("or", left, try andExpression()), location: location)
        }
        return left
    }

    private mutating func andExpression() throws -> ExprSyntax {
        var left = try notExpression()
        while case let location = token.location, takeWord("and") {
            left = ExprSyntax(kind: .binary("and", left, try notExpression()), location: location)
        }
        return left
    }

    private mutating func notExpression() throws -> ExprSyntax {
        let location = token.location
        if takeWord("not") {
            return ExprSyntax(kind: .unary("not", try notExpression()), location: location)
        }
        return try comparison()
    }

    private mutating func comparison() throws -> ExprSyntax {
        let left = try additive()
        let location = token.location
        func binary(_ op: String, _ right: ExprSyntax) -> ExprSyntax {
            ExprSyntax(kind: .binary(op, left, right), location: location)
        }
        if case .symbol(let s) = token.kind, ["=", "==", "!=", "<", "<=", ">", ">="].contains(s) {
            position += 1
            return binary(s == "==" ? "=" : s, try additive())
        }
        if takeWord("in") { return binary("in", try listOperand()) }
        if token.isWord("not"), next.isWord("in"), !atClauseBoundary {
            position += 2
            return ExprSyntax(kind: .unary("not", binary("in", try listOperand())), location: location)
        }
        if takeWord("contains") { return binary("contains", try additive()) }
        if takeWord("matches") { return binary("matches", try additive()) }
        for word in ["starts", "ends"] where token.isWord(word) && !atClauseBoundary {
            position += 1
            guard takeWord("with") else { try fail("expected `with` after `\(word)`") }
            return binary(word + "_with", try additive())
        }
        if takeWord("is") {
            let negated = takeWord("not")
            guard takeWord("null") else { try fail("expected `null` after `is\(negated ? " not" : "")`") }
            let test = binary("=", ExprSyntax(kind: .null, location: location))
            return negated ? ExprSyntax(kind: .unary("not", test), location: location) : test
        }
        return left
    }

    private mutating func listOperand() throws -> ExprSyntax {
        guard token.isSymbol("[") else {
            try fail("expected a list in brackets after `in`, such as [\"上海\", \"北京\"]; "
                + "a time window (`in last 3 days`) can only follow an event aggregate such as count(...)")
        }
        return try primary()
    }

    private mutating func additive() throws -> ExprSyntax {
        var left = try multiplicative()
        while case .symbol(let s) = token.kind, s == "+" || s == "-" {
            let location = token.location
            position += 1
            left = ExprSyntax(kind: .binary(s, left, try multiplicative()), location: location)
        }
        return left
    }

    private mutating func multiplicative() throws -> ExprSyntax {
        var left = try unary()
        while case .symbol(let s) = token.kind, s == "*" || s == "/" || s == "%" {
            let location = token.location
            position += 1
            left = ExprSyntax(kind: .binary(s, left, try unary()), location: location)
        }
        return left
    }

    private mutating func unary() throws -> ExprSyntax {
        let location = token.location
        if takeSymbol("-") { return ExprSyntax(kind: .unary("-", try unary()), location: location) }
        let operand = try primary()
        if let window = try window() {
            return ExprSyntax(kind: .windowed(operand, window), location: window.location)
        }
        return operand
    }

    // MARK: - Windows

    private mutating func window() throws -> WindowSyntax? {
        guard !atClauseBoundary else { return nil }
        let location = token.location
        var explicitIn = false
        if token.isWord("in"), next.isWord("last") || next.isWord("today") || next.isWord("this") || next.isWord("between") {
            position += 1
            explicitIn = true
        }
        func make(_ kind: WindowSyntax.Kind) -> WindowSyntax { WindowSyntax(kind: kind, location: location) }
        if takeWord("today") { return make(.calendarDays(1)) }
        if takeWord("this") {
            if takeWord("week") { return make(.thisWeek) }
            if takeWord("month") { return make(.thisMonth) }
            if takeWord("day") { return make(.calendarDays(1)) }
            try fail("expected `week` or `month` after `this`")
        }
        if token.isWord("last"), explicitIn || next.kind != .symbol("(") {
            position += 1
            let amount = try windowAmount()
            if takeWord("calendar") {
                guard token.isWord("day") || token.isWord("days") else {
                    try fail("calendar windows count days: `in last 7 calendar days`")
                }
                position += 1
                return make(.calendarDays(Int(amount)))
            }
            return make(.sliding(amount * (try unit())))
        }
        if takeWord("between") {
            let a = try windowAmount()
            guard takeWord("and") else { try fail("expected `and` in `between 90 and 30 days ago`") }
            let b = try windowAmount()
            let unit = try unit()
            guard takeWord("ago") else { try fail("expected `ago` at the end of `between 90 and 30 days ago`") }
            return make(.range(max(a, b) * unit, min(a, b) * unit))
        }
        if explicitIn { try fail("expected a time window after `in`") }
        return nil
    }

    private mutating func windowAmount() throws -> Int64 {
        guard case .number(let n) = token.kind, n >= 0, n.rounded() == n else {
            try fail("expected a whole number of time units, found \(token.spelling)")
        }
        position += 1
        return Int64(n)
    }

    private mutating func unit() throws -> Int64 {
        guard let word = token.word, let unit = Self.timeUnits[word] else {
            let suggestion = token.word.flatMap { closestMatch(to: $0, in: Self.timeUnits.keys) }
            try fail("expected a time unit (seconds, minutes, hours, days, weeks), found \(token.spelling)",
                suggestion: suggestion.map { "did you mean `\($0)`?" }
                    ?? (token.word == "months" || token.word == "month" ? "write months as days: `in last 180 days`" : nil))
        }
        position += 1
        return unit
    }

    // MARK: - Primaries

    private mutating func primary() throws -> ExprSyntax {
        let location = token.location
        if atClauseBoundary { try fail("expected a value, found \(token.spelling)") }
        switch token.kind {
        case .number(let n):
            position += 1
            return ExprSyntax(kind: .number(n), location: location)
        case .string(let s):
            position += 1
            return ExprSyntax(kind: .string(s), location: location)
        case .symbol("("):
            position += 1
            var inner = try expression()
            try expect(")", "to close the parenthesis")
            inner.location = location
            return inner
        case .symbol("["):
            position += 1
            var items: [ExprSyntax] = []
            while !token.isSymbol("]") {
                items.append(try additive())
                if !takeSymbol(",") { break }
            }
            try expect("]", "to close the list")
            return ExprSyntax(kind: .list(items), location: location)
        case .word(let word):
            switch word {
            case "true", "false":
                position += 1
                return ExprSyntax(kind: .bool(word == "true"), location: location)
            case "null":
                position += 1
                return ExprSyntax(kind: .null, location: location)
            case "sessions" where !next.isSymbol("."):
                position += 1
                if takeSymbol("(") { try expect(")", "after `sessions(`: sessions take no arguments") }
                return ExprSyntax(kind: .aggregate(AggregateSyntax(function: "sessions", location: location)), location: location)
            default:
                break
            }
            if next.isSymbol("(") {
                position += 2
                if Self.aggregateFunctions.contains(word) {
                    let aggregate = try aggregateArguments(word, at: location)
                    return ExprSyntax(kind: .aggregate(aggregate), location: location)
                }
                var arguments: [ExprSyntax] = []
                while !token.isSymbol(")") {
                    arguments.append(try expression())
                    if !takeSymbol(",") { break }
                }
                try expect(")", "to close the arguments of `\(word)`")
                return ExprSyntax(kind: .call(word, arguments), location: location)
            }
            return ExprSyntax(kind: .path(try path()), location: location)
        default:
            try fail("expected a value, found \(token.spelling)")
        }
    }

    private mutating func path() throws -> [String] {
        var parts: [String] = []
        repeat {
            guard let word = token.word ?? token.stringLiteral else { try fail("expected a name after `.`, found \(token.spelling)") }
            parts.append(word)
            position += 1
        } while takeSymbol(".")
        return parts
    }

    private mutating func selector() throws -> SelectorSyntax {
        guard let name = token.word ?? token.stringLiteral else {
            try fail("expected an event name (or `any`), found \(token.spelling)")
        }
        defer { position += 1 }
        return SelectorSyntax(name: name, location: token.location)
    }

    private mutating func aggregateArguments(_ function: String, at location: SourceLocation) throws -> AggregateSyntax {
        var aggregate = AggregateSyntax(function: function, location: location)
        if function == "sessions" {
            try expect(")", "after `sessions(`: sessions take no arguments")
            return aggregate
        }
        if function == "sequence" {
            repeat {
                let step = try selector()
                let filter = takeWord("where") ? try expression() : nil
                aggregate.steps.append((step, filter))
            } while takeSymbol("->")
            if takeWord("within") {
                aggregate.within = try windowAmount() * (try unit())
            }
            try expect(")", "to close `sequence(`; steps are joined by `->`")
            return aggregate
        }
        aggregate.selector = try selector()
        if takeSymbol(".") { aggregate.property = try path() }
        if takeWord("where") { aggregate.filter = try expression() }
        if takeWord("per") { aggregate.per = try path() }
        try expect(")", "to close `\(function)(`")
        return aggregate
    }
}

extension RuleToken {
    var stringLiteral: String? {
        if case .string(let s) = kind { return s }
        return nil
    }
}
