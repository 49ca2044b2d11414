/// Rule expressions compiled for evaluation: their nodes in one array, children by index.
///
/// A ``RuleExpr`` is a tree of indirect enums; walking it retains and releases each child it visits, and the
/// engine walks tens of millions of them. Here a node is a plain value (16 bytes, nothing to count) and
/// constants, property paths and argument lists sit in arrays beside the nodes. One code holds any number of
/// expressions (a tag set's rules), each known by its root. What the compiler can see ahead is decided
/// once: a comparison of a feature with a number, or of days since a moment with a number, becomes a
/// threshold node that also reports when time alone will cross it.
struct ExprCode: Sendable {
    enum Node: Sendable {
        case literal(Int32)
        case list(first: Int32, count: Int32)
        case property(Int32)
        case feature(Int32)
        case tag(Int32)
        case not(Int32)
        case negate(Int32)
        case and(Int32, Int32)
        case or(Int32, Int32)
        case arithmetic(ArithmeticOperator, Int32, Int32)
        case compare(ComparisonOperator, Int32, Int32)
        /// `feature op number`, `op` an order (not `=` or `!=`); the bound in ``bounds``.
        case featureThreshold(ComparisonOperator, feature: Int32, bound: Int32)
        /// `days_since(argument) op number`, `op` an order; the bound in ``bounds``.
        case daysThreshold(ComparisonOperator, argument: Int32, bound: Int32)
        case inList(Int32, Int32)
        case contains(Int32, Int32)
        case startsWith(Int32, Int32)
        case endsWith(Int32, Int32)
        case matches(Int32, pattern: Int32)
        case function(ScalarFunction, first: Int32, count: Int32)
    }

    private var nodes: [Node] = []
    private var constants: [RuleValue] = []
    private var bounds: [Double] = []
    private var paths: [[String]] = []
    /// The nodes of lists' items and functions' arguments, each list's run together.
    private var arguments: [Int32] = []

    init() {}

    /// A code holding one expression, whose root is ``root``.
    init(_ expression: RuleExpr) {
        root = add(expression)
    }

    /// The root of the expression of ``init(_:)``.
    private(set) var root: Int32 = -1

    /// Compiles `expression` into the code; its root.
    mutating func add(_ expression: RuleExpr) -> Int32 {
        let node: Node
        switch expression {
        case .literal(let value):
            constants.append(value)
            node = .literal(Int32(constants.count - 1))
        case .list(let items):
            let (first, count) = addArguments(items)
            node = .list(first: first, count: count)
        case .property(let path):
            paths.append(path)
            node = .property(Int32(paths.count - 1))
        case .feature(let index): node = .feature(Int32(index))
        case .tag(let index): node = .tag(Int32(index))
        case .not(let e): node = .not(add(e))
        case .negate(let e): node = .negate(add(e))
        case .and(let a, let b): node = .and(add(a), add(b))
        case .or(let a, let b): node = .or(add(a), add(b))
        case .arithmetic(let op, let a, let b): node = .arithmetic(op, add(a), add(b))
        case .compare(let op, .feature(let index), .literal(.number(let bound))) where op != .equal && op != .notEqual:
            bounds.append(bound)
            node = .featureThreshold(op, feature: Int32(index), bound: Int32(bounds.count - 1))
        case .compare(let op, .function(.daysSince, let arguments), .literal(.number(let bound)))
        where op != .equal && op != .notEqual && arguments.count == 1:
            bounds.append(bound)
            node = .daysThreshold(op, argument: add(arguments[0]), bound: Int32(bounds.count - 1))
        case .compare(let op, let a, let b): node = .compare(op, add(a), add(b))
        case .inList(let a, let b): node = .inList(add(a), add(b))
        case .contains(let a, let b): node = .contains(add(a), add(b))
        case .startsWith(let a, let b): node = .startsWith(add(a), add(b))
        case .endsWith(let a, let b): node = .endsWith(add(a), add(b))
        case .matches(let a, let pattern): node = .matches(add(a), pattern: Int32(pattern))
        case .function(let function, let arguments):
            let (first, count) = addArguments(arguments)
            node = .function(function, first: first, count: count)
        }
        nodes.append(node)
        return Int32(nodes.count - 1)
    }

    private mutating func addArguments(_ items: [RuleExpr]) -> (Int32, Int32) {
        let roots = items.map { add($0) }
        arguments.append(contentsOf: roots)
        return (Int32(arguments.count - roots.count), Int32(roots.count))
    }

    // MARK: - Evaluation

    /// The value of the expression rooted at ``root`` in `context`.
    func evaluate<Context: RuleContext>(in context: inout Context) -> RuleValue {
        evaluate(root, in: &context)
    }

    /// The value of the expression rooted at `node` in `context`. Missing data gives `null`, never a failure.
    func evaluate<Context: RuleContext>(_ node: Int32, in context: inout Context) -> RuleValue {
        switch nodes[Int(node)] {
        case .literal(let index): return constants[Int(index)]
        case .list(let first, let count):
            return .list((first..<first + count).map { evaluate(arguments[Int($0)], in: &context) })
        case .property(let index): return context.property(paths[Int(index)])
        case .feature(let index): return context.feature(Int(index))
        case .tag(let index): return context.tag(Int(index))
        case .not, .and, .or, .featureThreshold, .daysThreshold, .compare, .inList, .contains, .startsWith, .endsWith,
             .matches:
            return .bool(test(node, in: &context))
        case .negate(let e):
            guard let n = evaluate(e, in: &context).numberValue else { return .null }
            return .number(-n)
        case .arithmetic(let op, let a, let b):
            return RuleExpr.arithmetic(op, evaluate(a, in: &context), evaluate(b, in: &context))
        case .function(.coalesce, let first, let count):
            for argument in first..<first + count {
                let value = evaluate(arguments[Int(argument)], in: &context)
                if !value.isNull { return value }
            }
            return .null
        case .function(let function, let first, _):
            return RuleExpr.apply(function, to: evaluate(arguments[Int(first)], in: &context), in: &context)
        }
    }

    /// Whether the expression rooted at `node` holds in `context` (its value is true): conditions are
    /// decided here without making a value of each step.
    func test<Context: RuleContext>(_ node: Int32, in context: inout Context) -> Bool {
        switch nodes[Int(node)] {
        case .not(let e): return !test(e, in: &context)
        case .and(let a, let b): return test(a, in: &context) && test(b, in: &context)
        case .or(let a, let b): return test(a, in: &context) || test(b, in: &context)
        case .featureThreshold(let op, let feature, let bound):
            // A threshold on a figure that time only lowers (a count, a sum of amounts, a maximum) changes
            // once, when the figure falls below it: no need to wake at every event that leaves the window.
            let before = context.until
            let bound = bounds[Int(bound)]
            let result = RuleExpr.compare(op, context.feature(Int(feature)), .number(bound))
            if let moment = context.momentBelow(Threshold(op, bound), feature: Int(feature)) {
                context.until = min(before, moment)
            }
            return result
        case .daysThreshold(let op, let argument, let bound):
            // Whole days since a moment only grow: a threshold on them is crossed once, at a known moment.
            let before = context.until
            let moment = evaluate(argument, in: &context).moment
            let argumentUntil = context.until
            guard let moment else { return false }
            let bound = bounds[Int(bound)]
            let days = Double(floorDiv(context.time - moment, millisPerDay))
            let atLeast = Threshold(op, bound).wholeAtLeast
            let crossing = days >= atLeast ? EpochMillis.max : moment + EpochMillis(atLeast) * millisPerDay
            context.until = min(before, argumentUntil, crossing)
            return RuleExpr.compare(op, days, bound)
        case .compare(let op, let a, let b):
            return RuleExpr.compare(op, evaluate(a, in: &context), evaluate(b, in: &context))
        case .inList(let a, let b):
            let value = evaluate(a, in: &context)
            guard case .list(let items) = evaluate(b, in: &context) else { return false }
            return items.contains { RuleExpr.compare(.equal, value, $0) }
        case .contains(let a, let b):
            return RuleExpr.contains(evaluate(a, in: &context), evaluate(b, in: &context))
        case .startsWith(let a, let b):
            guard let s = evaluate(a, in: &context).plainText, let p = evaluate(b, in: &context).plainText else {
                return false
            }
            return s.hasPrefix(p)
        case .endsWith(let a, let b):
            guard let s = evaluate(a, in: &context).plainText, let p = evaluate(b, in: &context).plainText else {
                return false
            }
            return s.hasSuffix(p)
        case .matches(let a, let pattern):
            guard let s = evaluate(a, in: &context).plainText else { return false }
            return context.patterns[Int(pattern)].matches(s)
        default:
            return evaluate(node, in: &context).isTrue
        }
    }
}

/// A tag set's rules compiled: each tag's condition, cases or expression as roots in one ``ExprCode``.
struct CompiledRules: Sendable {
    private enum Rule: Sendable {
        case boolean(Int32)
        /// Cases `first..<first + count` of ``caseRoots`` and ``caseValues``; `otherwise`: -1 or a place in
        /// ``caseValues``.
        case cases(first: Int32, count: Int32, otherwise: Int32)
        case valued(Int32)
    }

    private var code = ExprCode()
    private var rules: [Rule] = []
    private var caseRoots: [Int32] = []
    private var caseValues: [RuleValue] = []
    /// ``caseValues`` packed in an engine's table (``packCaseValues(in:)``): a case's value is then set
    /// with no lookup.
    private var packedCaseValues: [PackedValue] = []

    init(_ rules: [TagRule]) {
        for rule in rules {
            switch rule {
            case .boolean(let condition): self.rules.append(.boolean(code.add(condition)))
            case .valued(let expression): self.rules.append(.valued(code.add(expression)))
            case .cases(let cases, let otherwise):
                let first = Int32(caseRoots.count)
                for c in cases {
                    caseRoots.append(code.add(c.condition))
                    caseValues.append(.string(c.value))
                }
                var otherwiseAt: Int32 = -1
                if let otherwise {
                    otherwiseAt = Int32(caseValues.count)
                    caseValues.append(.string(otherwise))
                    caseRoots.append(-1)
                }
                self.rules.append(.cases(first: first, count: Int32(cases.count), otherwise: otherwiseAt))
            }
        }
    }

    /// Packs the cases' values in `table`, which must keep them (``forEachPackedCaseValue(_:)`` reports them).
    mutating func packCaseValues(in table: ValueTable) {
        packedCaseValues = caseValues.map(table.pack)
    }

    func forEachPackedCaseValue(_ body: (PackedValue) -> Void) {
        packedCaseValues.forEach(body)
    }

    /// Tag `index`'s value for a profile, packed in `table` (after ``packCaseValues(in:)`` with it): `.null`
    /// when the profile does not have the tag.
    func packedValue<Context: RuleContext>(of index: Int, in context: inout Context, table: ValueTable) -> PackedValue {
        switch rules[index] {
        case .boolean(let root):
            return code.test(root, in: &context) ? .true : .null
        case .cases(let first, let count, let otherwise):
            for c in first..<first + count where code.test(caseRoots[Int(c)], in: &context) {
                return packedCaseValues[Int(c)]
            }
            return otherwise < 0 ? .null : packedCaseValues[Int(otherwise)]
        case .valued(let root):
            let value = code.evaluate(root, in: &context)
            return value.isNull ? .null : table.pack(value)
        }
    }

    /// Tag `index`'s value for a profile: nil when the profile does not have the tag.
    func value<Context: RuleContext>(of index: Int, in context: inout Context) -> RuleValue? {
        switch rules[index] {
        case .boolean(let root):
            return code.test(root, in: &context) ? .bool(true) : nil
        case .cases(let first, let count, let otherwise):
            for c in first..<first + count where code.test(caseRoots[Int(c)], in: &context) {
                return caseValues[Int(c)]
            }
            return otherwise < 0 ? nil : caseValues[Int(otherwise)]
        case .valued(let root):
            let value = code.evaluate(root, in: &context)
            return value.isNull ? nil : value
        }
    }
}

extension TagRule {
    /// The tag's value for a profile: nil when the profile does not have the tag. (Compiles the rule each
    /// time: for one-off uses; the engine keeps its rules compiled.)
    func value<Context: RuleContext>(in context: inout Context) -> RuleValue? {
        CompiledRules([self]).value(of: 0, in: &context)
    }
}

extension RuleExpr {
    /// The expression's value in `context`. (Compiles it each time: for one-off uses; what is evaluated
    /// often keeps an ``ExprCode``.)
    func evaluate<Context: RuleContext>(in context: inout Context) -> RuleValue {
        ExprCode(self).evaluate(in: &context)
    }
}
