import Foundation
@testable import TagflowCore

/// A test fixture: the example medical-aesthetics tag set in an engine on a simulated clock.
struct ClinicScenario {
    static let examplesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/tags")

    static func exampleTagSet() throws -> TagSet {
        let file = examplesDirectory.appendingPathComponent("medical-aesthetics.tags")
        let text = try String(contentsOf: file, encoding: .utf8)
        return try RuleCompiler.compileOrThrow([RuleSource(name: "medical-aesthetics.tags", text: text)])
    }

    let engine: TagEngine
    /// Monday 2026-03-02 10:00 in Shanghai.
    var now: EpochMillis = Timestamp.parse("2026-03-02T10:00:00+08:00") ?? 0
    var seq: Int64 = 0
    var changes = TagChanges()

    init(tagSet: TagSet? = nil) throws {
        engine = TagEngine(tagSet: try tagSet ?? Self.exampleTagSet(), calendar: .shanghai, now: now)
    }

    init(rules: String) throws {
        try self.init(tagSet: RuleCompiler.compileOrThrow([RuleSource(text: rules)]))
    }

    static let minute: Int64 = 60_000
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000

    /// An event happening now (or `ago` milliseconds before now, arriving now).
    mutating func event(
        _ name: String, _ properties: JSONObject = [:], ago: Int64 = 0, profile: Int64 = 1,
        context: JSONObject = [:], traits: JSONObject = [:], identifiers: [Identifier] = []
    ) {
        seq += 1
        var payload: JSONObject = ["properties": .object(properties)]
        if !context.isEmpty { payload["context"] = .object(context) }
        if !traits.isEmpty, name == "identify" || name == "group" { payload["traits"] = .object(traits) }  // as sent
        let event = RuleEvent(
            seq: seq, name: name, timestamp: now - ago, payload: payload, traits: traits, identifiers: identifiers)
        engine.apply(event, to: ProfileID(profile), now: now, changes: &changes)
    }

    /// Lets time pass, firing every change time causes.
    mutating func wait(_ duration: Int64) {
        now += duration
        engine.advance(to: now, changes: &changes)
    }

    /// Lets time pass up to just before `moment`, then to it.
    mutating func wait(until moment: EpochMillis) {
        now = moment
        engine.advance(to: now, changes: &changes)
    }

    func tag(_ id: String, profile: Int64 = 1) -> RuleValue? {
        engine.value(of: id, for: ProfileID(profile))?.value
    }

    func has(_ id: String, profile: Int64 = 1) -> Bool { tag(id, profile: profile) != nil }

    /// The moment the last change of this tag happened.
    func lastChange(of id: String, profile: Int64 = 1) -> TagChange? {
        changes.last { $0.tag == id && $0.profile == ProfileID(profile) }
    }
}
