import ArgumentParser
import Foundation
import NIOCore
import TagflowCore
import TagflowServer

/// Audiences on a running Tagflow. Segments are defined in .tags files (`segment <id>` ...) and created with
/// `tagflow tags apply`, like tags.
struct Segments: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Audiences (segments): list, preview, size, members, export, overlap, and the tag governance matrix.",
        subcommands: [List.self, Preview.self, Size.self, Members.self, Export.self, Overlap.self, Governance.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the segments with their sizes (broken ones with why).")
        @OptionGroup var connection: Sources.Connection

        func run() async throws {
            let answer = try await connection.client().get("/api/segments")
            guard case .array(let segments)? = answer["segments"] else { return }
            for segment in segments {
                let size = segment["members"].map { "size: \($0.jsonString)" } ?? ""
                say("\(segment["id"]?.stringValue ?? "?")  \(segment["displayName"]?.stringValue ?? "")  "
                    + "v\(segment["version"]?.jsonString ?? "?")  \(segment["status"]?.stringValue ?? "")  \(size)"
                    + (segment["problem"]?.stringValue.map { "  — \($0)" } ?? ""))
            }
        }
    }

    struct Preview: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How many profiles a segment text would hold and who would enter or leave; changes nothing.")
        @OptionGroup var connection: Sources.Connection
        @Argument(help: "A file holding one `segment` definition, or - for standard input.") var file: String

        func run() async throws {
            let text = file == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                : try String(contentsOfFile: file, encoding: .utf8)
            do {
                let preview = try await connection.client().post("/api/segments/preview", body: ["source": .string(text)])
                say("size \(preview["size"]?.jsonString ?? "?") (+\(preview["gained"]?.jsonString ?? "0") "
                    + "−\(preview["lost"]?.jsonString ?? "0")), computed by \(preview["method"]?.stringValue ?? "?")")
            } catch let error as AdminClient.Failure {
                Tags.printPlan(error.body)
                throw ExitCode(1)
            }
        }
    }

    struct Size: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A segment's exact size now.")
        @OptionGroup var connection: Sources.Connection
        @Argument(help: "The segment's id.") var segment: String

        func run() async throws {
            say(try await connection.client().get("/api/segments/\(pathComponent(segment))/size")["size"]?.jsonString ?? "?")
        }
    }

    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A page of a segment's members with their identifiers.")
        @OptionGroup var connection: Sources.Connection
        @Argument(help: "The segment's id.") var segment: String
        @Option(help: "Start after this profile number.") var after: Int64 = 0
        @Option(help: "How many (1 to 1000).") var limit = 50

        func run() async throws {
            let answer = try await connection.client().get(
                "/api/segments/\(pathComponent(segment))/members?after=\(after)&limit=\(limit)")
            guard case .array(let members)? = answer["members"] else { return }
            for member in members {
                let identifiers: String = if case .array(let items)? = member["identifiers"] {
                    items.map { "\($0["type"]?.stringValue ?? ""):\($0["value"]?.stringValue ?? "")" }.joined(separator: " ")
                } else { "" }
                say("\(member["profile"]?.jsonString ?? "?")  since \(member["since"]?.stringValue ?? "")  \(identifiers)")
            }
            if let next = answer["next"], !next.isNull { say("more: --after \(next.jsonString)") }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every member of a segment (or tag, or `tag=value`) as CSV or JSON lines, streamed.")
        @OptionGroup var connection: Sources.Connection
        @Argument(help: "The segment's id; or a tag's, or `tag=value`.") var name: String
        @Option(help: "csv or jsonl.") var format = "csv"
        @Option(name: .shortAndLong, help: "Write here instead of standard output.") var output: String?

        func run() async throws {
            let path: String
            if let equals = name.firstIndex(of: "=") {
                let value = String(name[name.index(after: equals)...])
                path = "/api/tags/\(pathComponent(String(name[..<equals])))/export?format=\(format)&value="
                    + pathComponent(value)
            } else {
                path = "/api/segments/\(pathComponent(name))/export?format=\(format)"
            }
            let handle: FileHandle
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: nil) else {
                    throw ValidationError("cannot create \(output)")
                }
                handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            } else {
                handle = .standardOutput
            }
            defer { if output != nil { try? handle.close() } }
            try await connection.client().download(path) { piece in handle.write(Data(piece.readableBytesView)) }
        }
    }

    struct Overlap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How segments, tags and tag values overlap: sizes, pairwise counts and Jaccard.")
        @OptionGroup var connection: Sources.Connection
        @Argument(help: "Segment or tag ids, or `tag=value`.") var names: [String]

        func run() async throws {
            let answer = try await connection.client().post("/api/overlap", body: ["names": .array(names.map { .string($0) })])
            for name in names { say("\(name): \(answer["sizes"]?[name]?.jsonString ?? "0")") }
            if case .array(let pairs)? = answer["pairs"] {
                for pair in pairs {
                    say("\(pair["a"]?.stringValue ?? "") ∩ \(pair["b"]?.stringValue ?? ""): \(pair["both"]?.jsonString ?? "0")"
                        + " of \(pair["either"]?.jsonString ?? "0"), Jaccard \(pair["jaccard"]?.jsonString ?? "0")")
                }
            }
            say("in all: \(answer["all"]?.jsonString ?? "0"), in any: \(answer["any"]?.jsonString ?? "0")")
        }
    }

    struct Governance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The overlap of every pair of tags, flagging near-duplicates and tags nobody or everybody has.")
        @OptionGroup var connection: Sources.Connection
        @Option(help: "Flag pairs whose Jaccard index is at least this.") var jaccard = 0.9
        @Option(help: "Flag tags held by at least this share of the profiles.") var coverage = 0.99
        @Flag(help: "Print the JSON answer (with the whole matrix).") var json = false

        func run() async throws {
            let answer = try await connection.client().get("/api/tags/governance?jaccard=\(jaccard)&coverage=\(coverage)")
            if json { return say(answer.jsonString) }
            say("\(answer["profiles"]?.jsonString ?? "0") profiles")
            guard case .array(let findings)? = answer["findings"] else { return }
            if findings.isEmpty { say("nothing looks redundant") }
            for finding in findings {
                say("\(finding["kind"]?.stringValue ?? "?"): \(finding["detail"]?.stringValue ?? "")")
            }
        }
    }
}

/// A path component or query value with everything but letters and digits percent-encoded (ids may be
/// Chinese).
func pathComponent(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
}
