import ArgumentParser
import Foundation
import TagflowCore
import TagflowServer

/// Where the example tag set is: `examples/tags` of the checkout the binary was built in, or of the
/// current directory.
enum ExampleTags {
    static var directory: String? { CheckoutFile.path("examples/tags") }
}

/// A file of the checkout, found from the working directory or from the executable's place in `.build`.
enum CheckoutFile {
    static func path(_ relative: String) -> String? {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let candidates = [
            FileManager.default.currentDirectoryPath + "/" + relative,
            // .build/<triple>/debug/tagflow → the checkout
            executable.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(relative).path,
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }
}

struct Tags: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check, apply and explain tag definitions written in the rule language (docs/rules.md).",
        subcommands: [Lint.self, Apply.self, DryRun.self, List.self, Explain.self])

    struct Lint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check .tags files without a server: every problem with file, line, column and a suggestion.")
        @Argument(help: "A .tags file or a directory of them.") var path: String
        @Option(help: "Also check event names against these (comma-separated), as the server does with those it has received.")
        var events: String?

        func run() async throws {
            let files = try TagFiles.read(path)
            let known = events.map { Set($0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }) }
            let (tagSet, diagnostics) = RuleCompiler.compile(files, knownEvents: known)
            for diagnostic in diagnostics { say(diagnostic.description) }
            guard let tagSet else { throw ExitCode(1) }
            let segments = tagSet.tags.filter(\.isSegment).count
            say("\(tagSet.tags.count - segments) tags, \(segments) segments, \(tagSet.features.count) shared features, "
                + "\(diagnostics.count) warnings")
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or edit the tags of .tags files on a running Tagflow; each is back-filled over the history.")
        @OptionGroup var connection: Sources.Connection
        @Argument(help: "A .tags file or a directory of them.") var path: String
        @Flag(help: "Also delete the tags the files no longer define.") var prune = false

        func run() async throws {
            try await sendPlan(path: path, prune: prune, dryRun: false, connection: connection)
        }
    }

    struct DryRun: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dry-run", abstract: "Show what `apply` would do: who would gain and lose each tag. Changes nothing.")
        @OptionGroup var connection: Sources.Connection
        @Argument(help: "A .tags file or a directory of them.") var path: String
        @Flag(help: "Include the deletions `apply --prune` would make.") var prune = false

        func run() async throws {
            try await sendPlan(path: path, prune: prune, dryRun: true, connection: connection)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tags of a running Tagflow with their member counts.")
        @OptionGroup var connection: Sources.Connection

        func run() async throws {
            let answer = try await connection.client().get("/api/tags")
            guard case .array(let tags)? = answer["tags"] else { return }
            for tag in tags {
                let id = tag["id"]?.stringValue ?? "?"
                let name = tag["displayName"]?.stringValue ?? ""
                say("\(id)  \(name)  v\(tag["version"]?.jsonString ?? "?")  \(tag["status"]?.stringValue ?? "")  members: \(tag["members"]?.jsonString ?? "0")")
            }
        }
    }

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Explain why a profile has a tag, or not.")
        @OptionGroup var connection: Sources.Connection
        @Argument(help: "The tag's id.") var tag: String
        @Argument(help: "The profile: its number, or an identifier as type:value (phone:13800138000, user_id:u-42).")
        var who: String?
        @Option(help: "The same, as an option.") var profile: String?
        @Flag(help: "Print the JSON answer.") var json = false

        func validate() throws {
            guard (who == nil) != (profile == nil) else {
                throw ValidationError("name the profile once: `explain <tag> 42`, or `explain <tag> phone:13800138000`")
            }
        }

        func run() async throws {
            let client = try connection.client()
            let profile = try await Self.profileNumber(self.who ?? self.profile ?? "", client: client)
            let answer = try await client.get("/api/profiles/\(profile)/tags/\(pathComponent(tag))/explain")
            if json { return say(answer.jsonString) }
            let value = answer["value"].map { $0.isNull ? "does not have it" : "has it: \($0.jsonString)" } ?? ""
            say("profile \(profile), tag \(tag): \(value)" + (answer["matchedCase"]?.stringValue.map { " (\($0))" } ?? ""))
            func show(_ node: JSONValue, depth: Int) {
                let events = node["events"].flatMap { e -> String? in
                    guard case .array(let items) = e, !items.isEmpty else { return nil }
                    return " ← events " + items.prefix(10).map(\.jsonString).joined(separator: ", ") + (items.count > 10 ? ", …" : "")
                } ?? ""
                say(String(repeating: "  ", count: depth + 1) + (node["expression"]?.stringValue ?? "") + " = "
                    + (node["value"]?.jsonString ?? "null") + events)
                if case .array(let children)? = node["children"] { for child in children { show(child, depth: depth + 1) } }
            }
            if case .array(let conditions)? = answer["conditions"] { for node in conditions { show(node, depth: 0) } }
            if let next = answer["nextChange"]?.stringValue { say("  next change by time alone: \(next)") }
        }

        /// A profile's number as given, or that of the profile an identifier (`type:value`) belongs to.
        static func profileNumber(_ given: String, client: AdminClient) async throws -> Int64 {
            if let number = Int64(given) { return number }
            guard let colon = given.firstIndex(of: ":"), colon != given.startIndex, given.index(after: colon) != given.endIndex else {
                throw ProfileNotNamed(description: "`\(given)` is neither a profile's number nor an identifier as type:value (phone:13800138000)")
            }
            let query = "type=\(pathComponent(String(given[..<colon])))&value=\(pathComponent(String(given[given.index(after: colon)...])))"
            guard case .int(let id)? = try await client.get("/api/profiles/lookup?" + query)["id"] else {
                throw ProfileNotNamed(description: "the server answered no profile number for \(given)")
            }
            return id
        }

        /// Said as it is (a `ValidationError` would print the usage of `tagflow` after it).
        struct ProfileNotNamed: Error, CustomStringConvertible {
            let description: String
        }
    }

    /// `applied`: the plan was carried out (its samples gained and lost the tags), not only worked out.
    static func printPlan(_ plan: JSONValue, applied: Bool = false) {
        if case .array(let diagnostics)? = plan["diagnostics"] {
            for d in diagnostics {
                let file = d["file"]?.stringValue.map { $0 + ":" } ?? ""
                say("\(file)\(d["line"]?.jsonString ?? "?"):\(d["column"]?.jsonString ?? "?"): \(d["severity"]?.stringValue ?? "error"): "
                    + (d["tag"]?.stringValue.map { "in `\($0)`: " } ?? "") + (d["message"]?.stringValue ?? "")
                    + (d["suggestion"]?.stringValue.map { " (\($0))" } ?? ""))
            }
        }
        guard case .array(let entries)? = plan["entries"] else { return }
        // The tags the plan leaves as they are, on one line: what changes is what a reader looks for.
        let unchanged = entries.filter { $0["action"]?.stringValue == "unchanged" }.compactMap { $0["tag"]?.stringValue }
        for e in entries where e["action"]?.stringValue != "unchanged" {
            let action = e["action"]?.stringValue ?? "?"
            let line = "\(action.padding(toLength: 9, withPad: " ", startingAt: 0)) \(e["tag"]?.stringValue ?? "?") v\(e["version"]?.jsonString ?? "?"): "
                + "\(e["membersBefore"]?.jsonString ?? "0") → \(e["membersAfter"]?.jsonString ?? "0") members"
                + " (+\(e["gained"]?.jsonString ?? "0") −\(e["lost"]?.jsonString ?? "0") ~\(e["changed"]?.jsonString ?? "0"))"
            say(line)
            for (label, key) in applied ? [("gained", "gainedSample"), ("lost", "lostSample")]
                : [("would gain", "gainedSample"), ("would lose", "lostSample")] {
                if case .array(let sample)? = e[key], !sample.isEmpty {
                    say("          \(label): profiles " + sample.map(\.jsonString).joined(separator: ", "))
                }
            }
        }
        if !unchanged.isEmpty {
            let named = unchanged.prefix(6).joined(separator: ", ") + (unchanged.count > 6 ? ", …" : "")
            say("unchanged: \(unchanged.count) tag\(unchanged.count == 1 ? "" : "s") (\(named))")
        }
    }
}

private func sendPlan(path: String, prune: Bool, dryRun: Bool, connection: Sources.Connection) async throws {
    let files = try TagFiles.read(path)
    let body: JSONValue = [
        "files": .array(files.map { ["name": .string($0.name ?? ""), "text": .string($0.text)] }),
        "prune": .bool(prune), "dryRun": .bool(dryRun),
    ]
    do {
        let plan = try await connection.client().post("/api/tags/apply", body: body)
        Tags.printPlan(plan, applied: !dryRun)
        say(dryRun ? "dry run: nothing changed" : "applied")
    } catch let error as AdminClient.Failure {
        Tags.printPlan(error.body)
        throw ExitCode(1)
    }
}
