/// A tag definition as written, before names are resolved and types checked.
struct TagSyntax: Sendable {
    var id: String
    var location: SourceLocation
    /// Written `segment <id>`: an audience, a condition over tags, traits and aggregates.
    var isSegment = false
    var displayName: String?
    var category: (name: String, location: SourceLocation)?
    var description: String?
    var owner: String?
    var when: ExprSyntax?
    var cases: [(value: String, condition: ExprSyntax)] = []
    var otherwise: String?
    var value: ExprSyntax?
    /// Where each clause keyword was, to point at a clause that does not belong.
    var clauseLocations: [String: SourceLocation] = [:]
    /// A clause did not parse (already reported): the tag is not checked further.
    var hasSyntaxErrors = false
}

/// An expression as written.
struct ExprSyntax: Sendable {
    indirect enum Kind: Sendable {
        case number(Double)
        case string(String)
        case bool(Bool)
        case null
        case list([ExprSyntax])
        /// `trait.city`, `tag.lifecycle`, `segment.leads`, `id.phone`, or an event property inside `where`.
        case path([String])
        /// A scalar function: `lower(x)`, `days_since(x)`.
        case call(String, [ExprSyntax])
        case aggregate(AggregateSyntax)
        /// An aggregate with its time window: `count(view_item) in last 3 days`.
        case windowed(ExprSyntax, WindowSyntax)
        /// `-x`, `not x`.
        case unary(String, ExprSyntax)
        /// `and or + - * / % = != < <= > >= in contains starts_with ends_with matches`
        case binary(String, ExprSyntax, ExprSyntax)
    }

    var kind: Kind
    var location: SourceLocation
}

/// Which events an aggregate looks at: one named event, or `any` event.
struct SelectorSyntax: Sendable {
    var name: String
    var location: SourceLocation
}

/// `count(view_item where project = "玻尿酸" per project)`, `sum(pay_order.amount)`, `sessions`, `sequence(...)`.
struct AggregateSyntax: Sendable {
    var function: String
    var location: SourceLocation
    var selector: SelectorSyntax?
    /// The property after the event name: `pay_order.amount` → `["amount"]`.
    var property: [String] = []
    var filter: ExprSyntax?
    /// `per project`: the aggregate is computed per value of this property, and the largest counts.
    var per: [String]?
    /// The steps of a `sequence(...)`.
    var steps: [(selector: SelectorSyntax, filter: ExprSyntax?)] = []
    /// `within 1 day` of a sequence, in milliseconds.
    var within: Int64?
}

/// A time window as written after an aggregate.
struct WindowSyntax: Sendable {
    enum Kind: Sendable, Equatable {
        /// `in last 3 days`: exact to the millisecond, sliding with the clock.
        case sliding(Int64)
        /// `between 90 and 30 days ago`, stored as (older bound, newer bound) ago.
        case range(Int64, Int64)
        /// `today`, `in last 7 calendar days` (the day count, today included).
        case calendarDays(Int)
        case thisWeek
        case thisMonth
    }

    var kind: Kind
    var location: SourceLocation
}
