@testable import TagflowCore

/// Rule expressions evaluated by walking their tree, as plainly as possible: the reference that the engine's
/// compiled form (``ExprCode``, with its threshold nodes) is held to. Comparisons, arithmetic and functions
/// of values are the language's own definitions and are shared.
extension RuleExpr {
    func referenceValue<Context: RuleContext>(in context: inout Context) -> RuleValue {
        func value(_ e: RuleExpr) -> RuleValue { e.referenceValue(in: &context) }
        switch self {
        case .literal(let v): return v
        case .list(let items): return .list(items.map(value))
        case .property(let path): return context.property(path)
        case .feature(let index): return context.feature(index)
        case .tag(let index): return context.tag(index)
        case .not(let e): return .bool(!value(e).isTrue)
        case .negate(let e): return value(e).numberValue.map { .number(-$0) } ?? .null
        case .and(let a, let b): return .bool(value(a).isTrue && value(b).isTrue)
        case .or(let a, let b): return .bool(value(a).isTrue || value(b).isTrue)
        case .arithmetic(let op, let a, let b): return RuleExpr.arithmetic(op, value(a), value(b))
        case .compare(let op, let a, let b): return .bool(RuleExpr.compare(op, value(a), value(b)))
        case .inList(let a, let b):
            let needle = value(a)
            guard case .list(let items) = value(b) else { return .bool(false) }
            return .bool(items.contains { RuleExpr.compare(.equal, needle, $0) })
        case .contains(let a, let b): return .bool(RuleExpr.contains(value(a), value(b)))
        case .startsWith(let a, let b):
            guard let s = value(a).plainText, let p = value(b).plainText else { return .bool(false) }
            return .bool(s.hasPrefix(p))
        case .endsWith(let a, let b):
            guard let s = value(a).plainText, let p = value(b).plainText else { return .bool(false) }
            return .bool(s.hasSuffix(p))
        case .matches(let a, let index):
            guard let s = value(a).plainText else { return .bool(false) }
            return .bool(context.patterns[index].matches(s))
        case .function(.coalesce, let arguments):
            for argument in arguments {
                let v = value(argument)
                if !v.isNull { return v }
            }
            return .null
        case .function(let function, let arguments):
            return RuleExpr.apply(function, to: value(arguments[0]), in: &context)
        }
    }
}

extension TagRule {
    func referenceValue<Context: RuleContext>(in context: inout Context) -> RuleValue? {
        switch self {
        case .boolean(let condition): return condition.referenceValue(in: &context).isTrue ? .bool(true) : nil
        case .cases(let cases, let otherwise):
            for c in cases where c.condition.referenceValue(in: &context).isTrue { return .string(c.value) }
            return otherwise.map { .string($0) }
        case .valued(let expression):
            let value = expression.referenceValue(in: &context)
            return value.isNull ? nil : value
        }
    }
}
