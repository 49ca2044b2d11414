import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TagflowCore
import TagflowStore

/// The tag API under `/api/tags`: definitions (create, edit, disable, delete, versions, audit), dry runs,
/// members, history; and tags on profiles, with explanations.
struct TagRoutes: Sendable {
    let store: SQLiteStore

    func register(on api: RouterGroup<BasicRequestContext>) {
        api.get("tags") { _, _ in try JSONResponse.make(["tags": try await store.tagDefinitions()]) }

        // One or more tags in the rule language: created, or edited into a new version.
        api.post("tags") { request, _ in
            let body = try await Self.body(request)
            guard let source = body["source"]?.stringValue else {
                throw APIError.badRequest("send the tag's rule text as `source` (JSON) or as a text/plain body")
            }
            let dryRun = Self.flag(body["dryRun"]) || request.uri.queryParameters["dry_run"] == "true"
            return try plan(.upsert([RuleSource(name: body["name"]?.stringValue, text: source)]), request, body, apply: !dryRun)
        }

        // A whole directory of tag files, as `tagflow tags apply` sends it.
        api.post("tags/apply") { request, _ in
            let body = try await Self.body(request)
            let files = try Self.files(body)
            let change: TagDefinitionChange = Self.flag(body["prune"]) ? .replaceAll(files) : .upsert(files)
            return try plan(change, request, body, apply: !Self.flag(body["dryRun"]))
        }

        // Checks rule texts against the stored tags and the events received, changing nothing.
        api.post("tags/lint") { request, _ in
            let body = try await Self.body(request)
            let plan = try store.planTags(.upsert(try Self.files(body)), actor: "lint", now: nowMillis(), apply: false)
            return try JSONResponse.make(["diagnostics": plan.diagnostics], status: plan.hasErrors ? .unprocessableContent : .ok)
        }

        api.get("tags/:id") { _, context in
            let id = try Self.tagID(context)
            guard let record = try await store.tagDefinitions().first(where: { $0.id == id }) else {
                throw APIError.notFound("tag `\(id)`")
            }
            return try JSONResponse.make(record)
        }
        api.get("tags/:id/versions") { _, context in
            let id = try Self.tagID(context)
            let versions = try await store.tagVersions(id)
            guard !versions.isEmpty else { throw APIError.notFound("tag `\(id)`") }
            return try JSONResponse.make(["versions": versions])
        }
        api.get("tags/:id/audit") { _, context in
            try JSONResponse.make(["audit": try await store.tagAudit(tag: try Self.tagID(context))])
        }
        api.post("tags/:id/disable") { request, context in
            try plan(.disable(try Self.tagID(context)), request, [:], apply: true)
        }
        api.post("tags/:id/enable") { request, context in
            try plan(.enable(try Self.tagID(context)), request, [:], apply: true)
        }
        api.delete("tags/:id") { request, context in
            try plan(.delete(try Self.tagID(context)), request, [:], apply: request.uri.queryParameters["dry_run"] != "true")
        }
        api.get("tags/:id/members") { request, context in
            let id = try Self.tagID(context)
            let limit = try AdminRoutes.limit(request)
            let after = Int64(request.uri.queryParameters["after"] ?? "0") ?? 0
            let value = request.uri.queryParameters["value"].map { raw -> JSONValue in
                (try? JSONParser.parse(String(raw))) ?? .string(String(raw))
            }
            let members = try await store.tagMembers(id, value: value, after: after, limit: limit)
            return try JSONResponse.make(MembersBody(members: members, next: members.count == limit ? members.last?.profile.rawValue : nil))
        }
        api.get("tags/:id/history") { request, context in
            let limit = try AdminRoutes.limit(request)
            let before = request.uri.queryParameters["before"].flatMap { Int64(String($0)) }
            let history = try await store.tagHistory(profile: nil, tag: try Self.tagID(context), before: before, limit: limit)
            return try JSONResponse.make(HistoryBody(history: history, next: history.count == limit ? history.last?.id : nil))
        }

        api.get("tag-changes") { request, _ in
            let limit = try AdminRoutes.limit(request)
            let before = request.uri.queryParameters["before"].flatMap { Int64(String($0)) }
            let history = try await store.tagHistory(profile: nil, tag: nil, before: before, limit: limit)
            return try JSONResponse.make(HistoryBody(history: history, next: history.count == limit ? history.last?.id : nil))
        }

        api.get("profiles/:id/tags") { _, context in
            let id = ProfileID(try AdminRoutes.integer(context, "id"))
            return try JSONResponse.make(["tags": try await store.tags(of: id)])
        }
        api.get("profiles/:id/tag-history") { request, context in
            let id = ProfileID(try AdminRoutes.integer(context, "id"))
            let limit = try AdminRoutes.limit(request)
            let before = request.uri.queryParameters["before"].flatMap { Int64(String($0)) }
            let history = try await store.tagHistory(profile: id, tag: nil, before: before, limit: limit)
            return try JSONResponse.make(HistoryBody(history: history, next: history.count == limit ? history.last?.id : nil))
        }
        api.get("profiles/:id/tags/:tag/explain") { _, context in
            let id = ProfileID(try AdminRoutes.integer(context, "id"))
            let tag = try Self.tagID(context, "tag")
            guard let explanation = try store.explain(tag, for: id) else { throw APIError.notFound("active tag `\(tag)`") }
            return try JSONResponse.make(explanation)
        }
    }

    private func plan(_ change: TagDefinitionChange, _ request: Request, _ body: JSONObject, apply: Bool) throws -> Response {
        let actor = request.headers[HTTPField.Name("X-Tagflow-Actor")!] ?? body["actor"]?.stringValue ?? "admin-api"
        do {
            let plan = try store.planTags(change, actor: actor, now: nowMillis(), apply: apply)
            return try JSONResponse.make(plan, status: plan.hasErrors ? .unprocessableContent : .ok)
        } catch TagError.unknownTag(let id) {
            throw APIError.notFound("tag `\(id)`")
        }
    }

    /// A JSON object, or a text/plain body taken as `{"source": <text>}`.
    static func body(_ request: Request) async throws -> JSONObject {
        let buffer = try await request.body.collect(upTo: 4 << 20)
        let bytes = Array(buffer: buffer)
        if request.headers[.contentType]?.hasPrefix("text/plain") == true {
            return ["source": .string(String(decoding: bytes, as: UTF8.self))]
        }
        guard case .object(let object) = try? JSONParser.parse(bytes) else {
            throw APIError.badRequest("the request body must be a JSON object (or text/plain rule text)")
        }
        return object
    }

    static func files(_ body: JSONObject) throws -> [RuleSource] {
        guard case .array(let items)? = body["files"] else {
            throw APIError.badRequest("send `files`: [{\"name\": \"a.tags\", \"text\": \"tag ...\"}]")
        }
        return try items.enumerated().map { index, item in
            guard let text = item["text"]?.stringValue else {
                throw APIError.badRequest("files[\(index)] needs a string `text`")
            }
            return RuleSource(name: item["name"]?.stringValue ?? "files[\(index)]", text: text)
        }
    }

    static func flag(_ value: JSONValue?) -> Bool {
        if case .bool(true)? = value { return true }
        return false
    }

    static func tagID(_ context: BasicRequestContext, _ name: String = "id") throws -> String {
        guard let id = context.parameters.get(name), !id.isEmpty else { throw APIError.badRequest("`\(name)` is missing") }
        return id.removingPercentEncoding ?? id
    }
}

struct MembersBody: Encodable {
    var members: [TagMember]
    var next: Int64?
}

struct HistoryBody: Encodable {
    var history: [TagHistoryEntry]
    var next: Int64?
}
