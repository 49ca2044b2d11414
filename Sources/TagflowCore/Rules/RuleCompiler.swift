/// A rule text to compile: its name (a file name, or nil for text from the API) and its content.
public struct RuleSource: Sendable, Hashable {
    public var name: String?
    public var text: String

    public init(name: String? = nil, text: String) {
        self.name = name
        self.text = text
    }
}

/// A tag's header: what it is called and what kind it is.
public struct TagHeader: Sendable, Hashable {
    public var id: String
    public var displayName: String
    public var category: TagCategory
    public var description: String
    public var owner: String
    /// `boolean`, `cases`, `value` or `segment`.
    public var kind: String
    /// The tags and segments its rule refers to (`tag.<id>`, `segment.<id>`).
    public var references: [String]
}

/// Checks tag texts and compiles them into a ``TagSet``: names resolved, types checked, identical
/// aggregates shared. Every problem is reported at once, each with its line, column and a suggestion.
public struct RuleCompiler {
    /// Event names always known: the Segment call types that are not `track`.
    public static let builtInEvents: Set<String> = ["page", "screen", "identify", "group", "alias"]

    /// Compiles every tag of `sources` into one set.
    ///
    /// - Parameter knownEvents: the event names received so far. A name that is not among them but close
    ///   to one is an error with a suggestion; one that is not close to any is a warning (the event may
    ///   simply not have been sent yet). `nil` skips the check.
    /// - Parameter knownTraits: the trait keys profiles have so far, checked the same way.
    /// - Returns: the tag set, or `nil` when there are errors, and every diagnostic (errors and warnings).
    public static func compile(
        _ sources: [RuleSource], knownEvents: Set<String>? = nil, knownTraits: Set<String>? = nil
    ) -> (TagSet?, [RuleDiagnostic]) {
        compile(sources, knownEvents: knownEvents, knownTraits: knownTraits, featureLimit: TagSet.maximumFeatures)
    }

    /// `featureLimit`: the most features the tag set may have (lower in tests).
    static func compile(
        _ sources: [RuleSource], knownEvents: Set<String>?, knownTraits: Set<String>?, featureLimit: Int
    ) -> (TagSet?, [RuleDiagnostic]) {
        var syntaxes: [(TagSyntax, RuleSource)] = []
        var diagnostics: [RuleDiagnostic] = []
        for source in sources {
            let (tags, problems) = RuleParser.parse(source.text)
            diagnostics += problems.map { var d = $0; d.file = source.name; return d }
            syntaxes += tags.map { ($0, source) }
        }
        var compiler = RuleCompiler(syntaxes: syntaxes, knownEvents: knownEvents, knownTraits: knownTraits)
        compiler.featureLimit = featureLimit
        let tagSet = compiler.compileAll()
        diagnostics += compiler.diagnostics
        diagnostics.sort { ($0.file ?? "", $0.line, $0.column) < ($1.file ?? "", $1.line, $1.column) }
        let failed = diagnostics.contains { $0.severity == .error }
        return (failed ? nil : tagSet, diagnostics)
    }

    /// Compiles, throwing every error at once.
    public static func compileOrThrow(_ sources: [RuleSource], knownEvents: Set<String>? = nil) throws -> TagSet {
        let (tagSet, diagnostics) = compile(sources, knownEvents: knownEvents)
        guard let tagSet else { throw RuleError(diagnostics.filter { $0.severity == .error }) }
        return tagSet
    }

    /// What a text says about each tag it defines (id, names, category, kind), read without checking the
    /// rules, so it works for one stored tag that refers to others.
    public static func headers(in text: String) -> [TagHeader] {
        RuleParser.parse(text).tags.map { syntax in
            TagHeader(
                id: syntax.id, displayName: syntax.displayName ?? syntax.id,
                category: syntax.category.flatMap { TagCategory(rawValue: $0.name) ?? categoryAliases[$0.name] } ?? .behavior,
                description: syntax.description ?? "", owner: syntax.owner ?? "",
                kind: syntax.isSegment ? "segment" : syntax.when != nil ? "boolean" : syntax.cases.isEmpty ? "value" : "cases",
                references: syntax.tagReferences)
        }
    }

    /// The ids of the tags a text defines, even when it does not compile.
    public static func tagIDs(in text: String) -> [String] {
        RuleParser.parse(text).tags.map(\.id)
    }

    // MARK: - State

    private enum StaticType: Equatable {
        case bool, number, string, time, list, any, null

        var name: String {
            switch self {
            case .bool: "a true/false condition"
            case .number: "a number"
            case .string: "text"
            case .time: "a moment in time"
            case .list: "a list"
            case .any: "a value"
            case .null: "null"
            }
        }

        func fits(_ wanted: StaticType) -> Bool { self == wanted || self == .any || self == .null || wanted == .any }
    }

    private struct Typed {
        var expr: RuleExpr
        var type: StaticType
    }

    private enum Scope {
        /// A tag's condition or value: aggregates, traits, tags and identifiers.
        case profile
        /// Inside `where`: the properties of one event.
        case event
    }

    private let syntaxes: [(TagSyntax, RuleSource)]
    private let knownEvents: Set<String>?
    private let knownTraits: Set<String>?
    private var diagnostics: [RuleDiagnostic] = []
    private var features: [FeatureSpec] = []
    private var featureLimit = TagSet.maximumFeatures
    private var featureIndex: [FeatureSpec: Int] = [:]
    private var patterns: [RulePattern] = []
    private var tagOrder: [String: Int] = [:]
    private var tagKinds: [String: StaticType] = [:]
    private var segmentIDs: Set<String> = []
    private var currentTag: String?
    private var currentFile: String?

    private init(syntaxes: [(TagSyntax, RuleSource)], knownEvents: Set<String>?, knownTraits: Set<String>?) {
        self.syntaxes = syntaxes
        self.knownEvents = knownEvents
        self.knownTraits = knownTraits
    }

    private mutating func error(_ message: String, at location: SourceLocation, suggestion: String? = nil) {
        var d = RuleDiagnostic(at: location, message, tag: currentTag, suggestion: suggestion)
        d.file = currentFile
        diagnostics.append(d)
    }

    private mutating func warning(_ message: String, at location: SourceLocation) {
        var d = RuleDiagnostic(.warning, at: location, message, tag: currentTag)
        d.file = currentFile
        diagnostics.append(d)
    }

    // MARK: - Tags

    private mutating func compileAll() -> TagSet {
        var unique: [(TagSyntax, RuleSource)] = []
        var seen: [String: SourceLocation] = [:]
        for (syntax, source) in syntaxes {
            currentFile = source.name
            if let first = seen[syntax.id] {
                error("a tag with id `\(syntax.id)` is already defined (line \(first.line))", at: syntax.location)
                continue
            }
            seen[syntax.id] = syntax.location
            unique.append((syntax, source))
            tagKinds[syntax.id] = syntax.when != nil ? .bool : syntax.cases.isEmpty ? .any : .string
            if syntax.isSegment { segmentIDs.insert(syntax.id) }
        }
        let ordered = dependencyOrder(unique)
        for (index, item) in ordered.enumerated() { tagOrder[item.0.id] = index }
        var tags: [TagDefinition] = []
        for (syntax, source) in ordered {
            currentFile = source.name
            currentTag = syntax.id
            let before = features.count
            if let tag = compileTag(syntax, source: source) { tags.append(tag) }
            if features.count > featureLimit, before <= featureLimit {
                error("the tags count more than \(featureLimit) different things (events, windows and "
                      + "filters): a profile's state names each in two bytes", at: syntax.location,
                      suggestion: "split the tags into several workspaces, or share aggregates between tags")
            }
        }
        currentTag = nil
        return TagSet(tags: tags, features: features, patterns: patterns)
    }

    /// Orders tags so each comes after the tags it refers to; reports cycles.
    private mutating func dependencyOrder(_ items: [(TagSyntax, RuleSource)]) -> [(TagSyntax, RuleSource)] {
        let byID = Dictionary(uniqueKeysWithValues: items.map { ($0.0.id, $0) })
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var ordered: [(TagSyntax, RuleSource)] = []
        func visit(_ id: String, path: [String]) {
            guard let item = byID[id] else { return }
            if state[id] == 2 { return }
            if state[id] == 1 {
                currentFile = item.1.name
                currentTag = id
                let cycle = (path.drop(while: { $0 != id }) + [id]).joined(separator: " → ")
                error("tags refer to each other in a circle: \(cycle)", at: item.0.location)
                return
            }
            state[id] = 1
            for reference in item.0.tagReferences where reference != id || true {
                visit(reference, path: path + [id])
            }
            state[id] = 2
            ordered.append(item)
        }
        for item in items { visit(item.0.id, path: []) }
        currentTag = nil
        return ordered
    }

    private mutating func compileTag(_ syntax: TagSyntax, source: RuleSource) -> TagDefinition? {
        let before = diagnostics.filter { $0.severity == .error }.count
        var category = TagCategory.behavior
        if let (name, location) = syntax.category {
            if let known = TagCategory(rawValue: name) ?? Self.categoryAliases[name] {
                category = known
            } else {
                let suggestion = closestMatch(to: name, in: TagCategory.allCases.map(\.rawValue))
                error("unknown category `\(name)`; categories are "
                    + TagCategory.allCases.map(\.rawValue).joined(separator: ", "),
                    at: location, suggestion: suggestion.map { "did you mean `\($0)`?" })
            }
        }
        if syntax.hasSyntaxErrors { return nil }
        if syntax.isSegment {
            var refused = false
            for clause in ["category", "case", "else", "value"] {
                guard let location = syntax.clauseLocations[clause] else { continue }
                error("a segment is one condition: it has `when`, `description` and `owner`, not `\(clause)`",
                      at: location, suggestion: clause == "category" ? "remove the line" : "write `when <condition>`")
                refused = true
            }
            if refused { return nil }
            if syntax.when == nil {
                error("the segment has no condition: add `when <condition>`, such as `when tag.paid_30d and trait.city = \"上海\"`",
                      at: syntax.location)
                return nil
            }
        }
        let kinds = [syntax.when != nil, !syntax.cases.isEmpty, syntax.value != nil].filter { $0 }.count
        if kinds == 0 {
            error("the tag has no rule: add `when <condition>`, `case \"value\" when <condition>` lines, "
                + "or `value <expression>`", at: syntax.location)
        } else if kinds > 1 {
            error("a tag has one kind of rule: `when`, `case` lines, or `value`, not several", at: syntax.location)
        }
        if syntax.otherwise != nil, syntax.cases.isEmpty, let location = syntax.clauseLocations["else"] {
            error("`else` gives the value when no case matches, so it needs `case` lines before it", at: location)
        }
        var rule: TagRule?
        if let when = syntax.when {
            if let typed = check(when, scope: .profile) {
                expect(typed, .bool, at: when.location, role: "the condition after `when`")
                rule = .boolean(typed.expr)
            }
        } else if !syntax.cases.isEmpty {
            var cases: [(value: String, condition: RuleExpr)] = []
            for (value, condition) in syntax.cases {
                if let typed = check(condition, scope: .profile) {
                    expect(typed, .bool, at: condition.location, role: "the condition of case \"\(value)\"")
                    cases.append((value, typed.expr))
                }
            }
            rule = .cases(cases, otherwise: syntax.otherwise)
        } else if let value = syntax.value {
            if let typed = check(value, scope: .profile) { rule = .valued(typed.expr) }
        }
        let errors = diagnostics.filter { $0.severity == .error }.count
        guard errors == before, let rule else { return nil }
        return TagDefinition(
            id: syntax.id, displayName: syntax.displayName ?? syntax.id, category: category,
            description: syntax.description ?? "", owner: syntax.owner ?? "", rule: rule, isSegment: syntax.isSegment,
            source: Self.sourceText(of: syntax, in: source.text, among: syntaxes.filter { $0.1 == source }.map(\.0)))
    }

    static let categoryAliases: [String: TagCategory] = [
        "behaviour": .behavior, "基础属性": .basic, "行为": .behavior, "兴趣": .interest, "生命周期": .lifecycle,
        "价值": .value, "情感": .sentiment, "预测": .predictive,
    ]

    /// The lines of `text` that define `syntax`: from its `tag` line to the next tag's.
    static func sourceText(of syntax: TagSyntax, in text: String, among others: [TagSyntax]) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = syntax.location.line - 1
        let end = others.map { $0.location.line - 1 }.filter { $0 > start }.min() ?? lines.count
        var slice = Array(lines[start..<min(end, lines.count)])
        while let last = slice.last, String(last).trimmingSpaces.isEmpty || String(last).trimmingSpaces.hasPrefix("#") {
            slice.removeLast()
        }
        return slice.joined(separator: "\n")
    }

    private mutating func expect(_ typed: Typed, _ wanted: StaticType, at location: SourceLocation, role: String) {
        guard !typed.type.fits(wanted) else { return }
        error("\(role) must be \(wanted.name), but this is \(typed.type.name)", at: location,
              suggestion: typed.type == .number && wanted == .bool ? "compare it, e.g. `>= 3`" : nil)
    }

    // MARK: - Expressions

    private mutating func check(_ syntax: ExprSyntax, scope: Scope) -> Typed? {
        let location = syntax.location
        switch syntax.kind {
        case .number(let n): return Typed(expr: .literal(.number(n)), type: .number)
        case .string(let s): return Typed(expr: .literal(.string(s)), type: .string)
        case .bool(let b): return Typed(expr: .literal(.bool(b)), type: .bool)
        case .null: return Typed(expr: .literal(.null), type: .null)
        case .list(let items):
            let checked = items.map { check($0, scope: scope) }
            guard checked.allSatisfy({ $0 != nil }) else { return nil }
            return Typed(expr: .list(checked.compactMap { $0?.expr }), type: .list)
        case .path(let path):
            return checkPath(path, scope: scope, at: location)
        case .call(let name, let arguments):
            return checkCall(name, arguments, scope: scope, at: location)
        case .aggregate(let aggregate):
            return checkAggregate(aggregate, window: .allTime, scope: scope)
        case .windowed(let inner, let window):
            guard case .aggregate(let aggregate) = inner.kind else {
                error("a time window can only follow an event aggregate such as count(...), sum(...) or sessions",
                      at: window.location)
                return nil
            }
            guard let timeWindow = checkWindow(window) else { return nil }
            return checkAggregate(aggregate, window: timeWindow, scope: scope)
        case .unary(let op, let operand):
            guard let typed = check(operand, scope: scope) else { return nil }
            if op == "not" {
                expect(typed, .bool, at: operand.location, role: "the operand of `not`")
                return Typed(expr: .not(typed.expr), type: .bool)
            }
            expect(typed, .number, at: operand.location, role: "the operand of `-`")
            return Typed(expr: .negate(typed.expr), type: .number)
        case .binary(let op, let left, let right):
            let l = check(left, scope: scope), r = check(right, scope: scope)
            guard let l, let r else { return nil }
            return checkBinary(op, l, r, left: left, right: right, at: location)
        }
    }

    private mutating func checkBinary(
        _ op: String, _ l: Typed, _ r: Typed, left: ExprSyntax, right: ExprSyntax, at location: SourceLocation
    ) -> Typed? {
        switch op {
        case "and", "or":
            expect(l, .bool, at: left.location, role: "each side of `\(op)`")
            expect(r, .bool, at: right.location, role: "each side of `\(op)`")
            return Typed(expr: op == "and" ? .and(l.expr, r.expr) : .or(l.expr, r.expr), type: .bool)
        case "+", "-", "*", "/", "%":
            expect(l, .number, at: left.location, role: "each side of `\(op)`")
            expect(r, .number, at: right.location, role: "each side of `\(op)`")
            guard let arithmetic = ArithmeticOperator(rawValue: op) else { return nil }
            return Typed(expr: .arithmetic(arithmetic, l.expr, r.expr), type: .number)
        case "=", "!=", "<", "<=", ">", ">=":
            guard let comparison = ComparisonOperator(rawValue: op) else { return nil }
            let comparable = l.type.fits(r.type) || r.type.fits(l.type)
            if !comparable {
                error("`\(op)` compares \(l.type.name) with \(r.type.name), which is never true", at: location,
                      suggestion: r.type == .string && l.type == .number ? "write numbers without quotes" : nil)
            } else if ["<", "<=", ">", ">="].contains(op), [l.type, r.type].contains(where: { $0 == .bool || $0 == .list }) {
                error("`\(op)` needs numbers, text or moments, not \(l.type == .bool || l.type == .list ? l.type.name : r.type.name)",
                      at: location)
            }
            return Typed(expr: .compare(comparison, l.expr, r.expr), type: .bool)
        case "in":
            return Typed(expr: .inList(l.expr, r.expr), type: .bool)
        case "contains":
            if ![.string, .list, .any].contains(l.type) {
                error("`contains` looks inside text or a list, but this is \(l.type.name)", at: left.location)
            }
            return Typed(expr: .contains(l.expr, r.expr), type: .bool)
        case "starts_with", "ends_with":
            expect(l, .string, at: left.location, role: "the left side of `\((op == "starts_with" ? "starts with" : "ends with"))`")
            expect(r, .string, at: right.location, role: "the right side of `\((op == "starts_with" ? "starts with" : "ends with"))`")
            return Typed(expr: op == "starts_with" ? .startsWith(l.expr, r.expr) : .endsWith(l.expr, r.expr), type: .bool)
        case "matches":
            guard case .literal(.string(let pattern)) = r.expr else {
                error("`matches` needs a regular expression in quotes, such as matches \"^1[3-9]\"", at: right.location)
                return nil
            }
            do {
                let compiled = try RulePattern(pattern)
                let index = patterns.firstIndex(of: compiled) ?? patterns.count
                if index == patterns.count { patterns.append(compiled) }
                return Typed(expr: .matches(l.expr, index), type: .bool)
            } catch {
                self.error("this regular expression does not compile: \(error)", at: right.location)
                return nil
            }
        default:
            error("unknown operator `\(op)`", at: location)
            return nil
        }
    }

    private mutating func checkPath(_ path: [String], scope: Scope, at location: SourceLocation) -> Typed? {
        if scope == .event {
            if path.count > 1, ["trait", "tag", "segment", "id"].contains(path[0]) {
                error("inside `where`, names are properties of the event; `\(path[0]).` cannot be used there",
                      at: location)
                return nil
            }
            return Typed(expr: .property(path), type: .any)
        }
        switch path[0] {
        case "trait" where path.count > 1:
            if let knownTraits, !knownTraits.contains(path[1]) {
                if let suggestion = closestMatch(to: path[1], in: knownTraits) {
                    error("unknown trait `\(path[1])`", at: location, suggestion: "did you mean `trait.\(suggestion)`?")
                } else {
                    warning("no profile has a `\(path[1])` trait yet", at: location)
                }
            }
            return Typed(expr: .feature(intern(FeatureSpec(kind: .trait(Array(path.dropFirst()))))), type: .any)
        case "id" where path.count == 2:
            return Typed(expr: .feature(intern(FeatureSpec(kind: .identifier(path[1])))), type: .any)
        case "tag" where path.count == 2, "segment" where path.count == 2:
            let wantsSegment = path[0] == "segment"
            let noun = wantsSegment ? "segment" : "tag"
            guard let index = tagOrder[path[1]], let type = tagKinds[path[1]] else {
                let candidates = tagKinds.keys.filter { segmentIDs.contains($0) == wantsSegment }
                let suggestion = closestMatch(to: path[1], in: candidates)
                error("unknown \(noun) `\(path[1])`", at: location, suggestion: suggestion.map { "did you mean `\(noun).\($0)`?" })
                return nil
            }
            guard segmentIDs.contains(path[1]) == wantsSegment else {
                let other = wantsSegment ? "tag" : "segment"
                error("`\(path[1])` is a \(other), not a \(noun)", at: location, suggestion: "write `\(other).\(path[1])`")
                return nil
            }
            return Typed(expr: .tag(index), type: type)
        default:
            let name = path.joined(separator: ".")
            var suggestion: String?
            if path.count == 1, tagKinds[name] != nil {
                let noun = segmentIDs.contains(name) ? "segment" : "tag"
                suggestion = "to use the \(noun), write `\(noun).\(name)`"
            } else if path.count == 1, RuleParser.aggregateFunctions.contains(name) || ScalarFunction(rawValue: name) != nil {
                suggestion = "`\(name)` is a function: write `\(name)(...)`"
            } else if path.count == 1, knownEvents?.contains(name) == true || RuleCompiler.builtInEvents.contains(name) {
                suggestion = "to count that event, write `count(\(name))`"
            } else {
                suggestion = "for a trait write `trait.\(name)`; event properties go inside `where`"
            }
            error("unknown name `\(name)`", at: location, suggestion: suggestion)
            return nil
        }
    }

    private mutating func checkCall(_ name: String, _ arguments: [ExprSyntax], scope: Scope, at location: SourceLocation) -> Typed? {
        guard let function = ScalarFunction(rawValue: name) else {
            let all = RuleParser.aggregateFunctions.union(ScalarFunction.allCases.map(\.rawValue))
            error("unknown function `\(name)`", at: location,
                  suggestion: closestMatch(to: name, in: all).map { "did you mean `\($0)`?" })
            return nil
        }
        let checked = arguments.map { check($0, scope: scope) }
        guard checked.allSatisfy({ $0 != nil }) else { return nil }
        let typed = checked.compactMap { $0 }
        let (arity, argument, result): (ClosedRange<Int>, StaticType, StaticType) = switch function {
        case .daysSince: (1...1, .time, .number)
        case .lower, .upper: (1...1, .string, .string)
        case .length: (1...1, .any, .number)
        case .abs, .round, .floor, .ceil: (1...1, .number, .number)
        case .coalesce: (1...16, .any, .any)
        }
        guard arity.contains(typed.count) else {
            error("`\(name)` takes \(arity.lowerBound == arity.upperBound ? "\(arity.lowerBound)" : "\(arity.lowerBound) or more") "
                + "argument\(arity.upperBound == 1 ? "" : "s"), not \(typed.count)", at: location)
            return nil
        }
        for (t, syntax) in zip(typed, arguments) {
            expect(t, argument, at: syntax.location, role: "the argument of `\(name)`")
        }
        if function == .daysSince, scope == .event {
            error("`days_since` cannot be used inside `where`", at: location)
        }
        return Typed(expr: .function(function, typed.map(\.expr)), type: result)
    }

    private mutating func checkWindow(_ window: WindowSyntax) -> TimeWindow? {
        switch window.kind {
        case .sliding(let ms):
            guard ms > 0 else {
                error("a window must be longer than zero", at: window.location)
                return nil
            }
            return .sliding(ms)
        case .range(let older, let newer):
            guard older > newer else {
                error("the two ends of `between ... ago` must differ", at: window.location)
                return nil
            }
            return .range(older: older, newer: newer)
        case .calendarDays(let days):
            guard days > 0, days <= 3660 else {
                error("a calendar window counts 1 to 3660 days", at: window.location)
                return nil
            }
            return .calendarDays(days)
        case .thisWeek: return .thisWeek
        case .thisMonth: return .thisMonth
        }
    }

    private mutating func checkSelector(_ selector: SelectorSyntax) -> EventSelector {
        if selector.name == "any" { return .any }
        if let knownEvents, !knownEvents.contains(selector.name), !Self.builtInEvents.contains(selector.name) {
            if let suggestion = closestMatch(to: selector.name, in: knownEvents.union(Self.builtInEvents)) {
                error("unknown event `\(selector.name)`", at: selector.location, suggestion: "did you mean `\(suggestion)`?")
            } else {
                warning("no `\(selector.name)` event has been received yet", at: selector.location)
            }
        }
        return .named(selector.name)
    }

    private mutating func checkAggregate(_ aggregate: AggregateSyntax, window: TimeWindow, scope: Scope) -> Typed? {
        let name = aggregate.function
        guard let function = AggregateFunction(rawValue: name) else { return nil }
        if scope == .event {
            error("`\(name)(...)` looks at many events, so it cannot be used inside `where`, which looks at one",
                  at: aggregate.location)
            return nil
        }
        var spec = FeatureSpec(kind: .aggregate(function), window: window)
        var failed = false
        if function == .sequence {
            if aggregate.steps.count < 2 {
                error("a sequence needs at least two steps: sequence(view_item -> pay_order)", at: aggregate.location)
                failed = true
            } else if aggregate.steps.count > EntryWindow.maximumSteps {
                error("a sequence has at most \(EntryWindow.maximumSteps) steps; this one has \(aggregate.steps.count)",
                      at: aggregate.location)
                failed = true
            }
            for step in aggregate.steps {
                let selector = checkSelector(step.selector)
                var filter: RuleExpr?
                if let syntax = step.filter {
                    if let typed = check(syntax, scope: .event) {
                        expect(typed, .bool, at: syntax.location, role: "the condition after `where`")
                        filter = typed.expr
                    } else {
                        failed = true
                    }
                }
                spec.steps.append(SequenceStep(selector: selector, filter: filter))
            }
            spec.within = aggregate.within
        } else if let selector = aggregate.selector {
            spec.selector = checkSelector(selector)
            spec.property = aggregate.property
            let needsProperty: Set<AggregateFunction> = [.sum, .avg, .min, .max, .distinct, .top, .first, .last]
            if needsProperty.contains(function), aggregate.property.isEmpty {
                error("`\(name)` needs a property of the event, such as \(name)(\(selector.name).amount)",
                      at: aggregate.location)
                failed = true
            }
            if let per = aggregate.per {
                if function == .count || function == .sum {
                    spec.per = per
                } else {
                    error("`per` groups `count` and `sum` only", at: aggregate.location)
                    failed = true
                }
            }
            if let syntax = aggregate.filter {
                if let typed = check(syntax, scope: .event) {
                    expect(typed, .bool, at: syntax.location, role: "the condition after `where`")
                    spec.filter = typed.expr
                } else {
                    failed = true
                }
            }
        }
        if failed { return nil }
        let type: StaticType = switch function {
        case .count, .sum, .avg, .min, .max, .distinct, .sessions: .number
        case .top, .first, .last: .any
        case .firstTime, .lastTime: .time
        case .exists, .sequence: .bool
        }
        return Typed(expr: .feature(intern(spec)), type: type)
    }

    private mutating func intern(_ spec: FeatureSpec) -> Int {
        if let index = featureIndex[spec] { return index }
        features.append(spec)
        featureIndex[spec] = features.count - 1
        return features.count - 1
    }
}

extension TagSyntax {
    /// The ids of the tags this tag's rule refers to with `tag.<id>`.
    var tagReferences: [String] {
        var ids: [String] = []
        func walk(_ e: ExprSyntax) {
            switch e.kind {
            case .path(let path) where path.count == 2 && (path[0] == "tag" || path[0] == "segment"): ids.append(path[1])
            case .list(let items): items.forEach(walk)
            case .call(_, let args): args.forEach(walk)
            case .windowed(let inner, _): walk(inner)
            case .unary(_, let x): walk(x)
            case .binary(_, let a, let b):
                walk(a)
                walk(b)
            default: break
            }
        }
        [when, value].compactMap { $0 }.forEach(walk)
        cases.forEach { walk($0.condition) }
        return ids
    }
}
