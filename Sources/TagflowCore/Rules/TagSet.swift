/// A complete, checked set of tags, compiled into the shared features the engine keeps per profile.
///
/// Tags are in dependency order: a tag comes after every tag it refers to.
public struct TagSet: Sendable {
    /// The most features a tag set may have: the engine names a feature in two bytes.
    public static let maximumFeatures = Int(UInt16.max)
    public let tags: [TagDefinition]
    /// Every distinct per-profile feature the tags need; tags computing the same thing share one.
    public let features: [FeatureSpec]
    let patterns: [RulePattern]
    let indexByID: [String: Int]
    /// For each feature, the tags that read it, in dependency order.
    let tagsByFeature: [[Int]]
    /// For each tag, the tags that refer to it directly, in dependency order: to re-evaluate when it changes.
    let referringTags: [[Int]]
    /// For each tag, the tags that refer to it directly or through others, in dependency order.
    let dependentTags: [[Int]]
    /// Tags whose value can change with time alone, in dependency order.
    let timeDependentTags: [Int]

    public static let empty = TagSet(tags: [], features: [], patterns: [])

    init(tags: [TagDefinition], features: [FeatureSpec], patterns: [RulePattern]) {
        self.tags = tags
        self.features = features
        self.patterns = patterns
        indexByID = Dictionary(uniqueKeysWithValues: tags.enumerated().map { ($1.id, $0) })

        var directFeatures: [[Int]] = []
        var directTags: [[Int]] = []
        for tag in tags {
            var f = Set<Int>(), t = Set<Int>()
            tag.rule.visit { expr in
                if case .feature(let i) = expr { f.insert(i) }
                if case .tag(let i) = expr { t.insert(i) }
            }
            directFeatures.append(f.sorted())
            directTags.append(t.sorted())
        }
        // Tags are in dependency order, so one forward pass closes the "refers to" relation.
        var dependents = [Set<Int>](repeating: [], count: tags.count)
        for index in tags.indices.reversed() {
            for referenced in directTags[index] {
                dependents[referenced].insert(index)
                dependents[referenced].formUnion(dependents[index])
            }
        }
        dependentTags = dependents.map { $0.sorted() }
        var referring = [[Int]](repeating: [], count: tags.count)
        for (tag, referenced) in directTags.enumerated() {
            for index in referenced { referring[index].append(tag) }
        }
        referringTags = referring
        var byFeature = [[Int]](repeating: [], count: features.count)
        for (tag, used) in directFeatures.enumerated() {
            for feature in used { byFeature[feature].append(tag) }
        }
        tagsByFeature = byFeature

        var timeDependent = [Bool](repeating: false, count: tags.count)
        for (index, tag) in tags.enumerated() {
            var dependsOnTime = directTags[index].contains { timeDependent[$0] }
            tag.rule.visit { expr in
                if case .feature(let i) = expr, case .aggregate = features[i].kind, features[i].window.isTimeDependent {
                    dependsOnTime = true
                }
                if case .function(.daysSince, _) = expr { dependsOnTime = true }
            }
            timeDependent[index] = dependsOnTime
        }
        timeDependentTags = tags.indices.filter { timeDependent[$0] }
    }

    public func index(of id: String) -> Int? { indexByID[id] }

    /// The tags tag `index` refers to, directly or through others, in dependency order.
    public func tagsReferred(by index: Int) -> [Int] {
        tags.indices.filter { dependentTags[$0].contains(index) }
    }

    public subscript(id: String) -> TagDefinition? { indexByID[id].map { tags[$0] } }
}

extension TagRule {
    /// Calls `body` on every sub-expression of the rule, filters of features excluded.
    func visit(_ body: (RuleExpr) -> Void) {
        switch self {
        case .boolean(let e), .valued(let e): e.visit(body)
        case .cases(let cases, _): for c in cases { c.condition.visit(body) }
        }
    }
}

extension RuleExpr {
    func visit(_ body: (RuleExpr) -> Void) {
        body(self)
        switch self {
        case .literal, .property, .feature, .tag: break
        case .list(let items): for item in items { item.visit(body) }
        case .not(let e), .negate(let e), .matches(let e, _): e.visit(body)
        case .and(let a, let b), .or(let a, let b), .arithmetic(_, let a, let b), .compare(_, let a, let b),
            .inList(let a, let b), .contains(let a, let b), .startsWith(let a, let b), .endsWith(let a, let b):
            a.visit(body)
            b.visit(body)
        case .function(_, let args): for arg in args { arg.visit(body) }
        }
    }
}
