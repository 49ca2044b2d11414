import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Roaring
import TagflowCore
import TagflowStore

/// The audience API: segment definitions (created, edited, disabled, deleted like tags: versioned and
/// audited), size, members, streamed exports, enter/exit history, size over time; overlaps between any
/// segments, tags and tag values; and the tag governance matrix.
struct SegmentRoutes: Sendable {
    let store: SQLiteStore

    func register(on api: RouterGroup<BasicRequestContext>) {
        api.get("segments") { _, _ in try JSONResponse.make(["segments": try store.segmentDefinitions()]) }

        // A segment in the rule language, created or edited into a new version; `dryRun` previews it.
        api.post("segments") { request, _ in
            let body = try await TagRoutes.body(request)
            let source = try Self.segmentSource(body)
            if TagRoutes.flag(body["dryRun"]) || request.uri.queryParameters["dry_run"] == "true" {
                return try preview(source)
            }
            return try plan(.upsert([RuleSource(name: nil, text: source)]), request, body)
        }
        api.post("segments/preview") { request, _ in
            try preview(try Self.segmentSource(try await TagRoutes.body(request)))
        }

        api.get("segments/:id") { _, context in
            try run { try JSONResponse.make(try store.segmentDefinition(try TagRoutes.tagID(context))) }
        }
        api.get("segments/:id/versions") { _, context in
            let id = try segmentID(context)
            return try JSONResponse.make(["versions": try await store.tagVersions(id)])
        }
        api.get("segments/:id/audit") { _, context in
            let id = try segmentID(context)
            return try JSONResponse.make(["audit": try await store.tagAudit(tag: id)])
        }
        api.post("segments/:id/disable") { request, context in
            let id = try segmentID(context)
            return try plan(.disable(id), request, [:])
        }
        api.post("segments/:id/enable") { request, context in
            let id = try segmentID(context)
            return try plan(.enable(id), request, [:])
        }
        api.delete("segments/:id") { request, context in
            let id = try segmentID(context)
            return try plan(.delete(id), request, [:])
        }

        api.get("segments/:id/size") { _, context in
            let id = try segmentID(context)
            let size = try run { try store.membership(of: id).count }
            return try JSONResponse.make(SizeBody(segment: id, size: size, at: Timestamp.format(nowMillis())))
        }
        api.get("segments/:id/members") { request, context in
            let id = try segmentID(context)
            return try members(id, request)
        }
        api.get("segments/:id/export") { request, context in
            let id = try segmentID(context)
            return try export(id, request)
        }
        api.get("segments/:id/history") { request, context in
            let id = try TagRoutes.tagID(context)
            let limit = try AdminRoutes.limit(request)
            let before = request.uri.queryParameters["before"].flatMap { Int64(String($0)) }
            let history = try await runAsync { try await store.segmentHistory(id, before: before, limit: limit) }
            return try JSONResponse.make(TransitionsBody(history: history, next: history.count == limit ? history.last?.id : nil))
        }
        api.get("segments/:id/size-history") { request, context in
            let id = try TagRoutes.tagID(context)
            let interval = request.uri.queryParameters["interval"].map(String.init) ?? "day"
            guard interval == "day" || interval == "hour" else { throw APIError.badRequest("`interval` is `day` or `hour`") }
            return try run { try JSONResponse.make(["points": try store.segmentSizeHistory(id, hourly: interval == "hour")]) }
        }

        // The same member pages and exports for a tag, or one value of a valued tag (`?value=沉睡`).
        api.get("tags/:id/export") { request, context in
            var name = try TagRoutes.tagID(context)
            if let value = request.uri.queryParameters["value"] { name += "=\(value)" }
            return try export(name, request)
        }

        api.get("overlap") { request, _ in
            guard let raw = request.uri.queryParameters["names"], !raw.isEmpty else {
                throw APIError.badRequest("send `names`: segments, tags or `tag=value`, comma-separated (or POST {\"names\": [...]})")
            }
            return try overlap(raw.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
        }
        api.post("overlap") { request, _ in
            let body = try await TagRoutes.body(request)
            guard case .array(let items)? = body["names"], !items.isEmpty else {
                throw APIError.badRequest("send `names`: a list of segments, tags or `tag=value`")
            }
            return try overlap(try items.enumerated().map { index, item in
                guard let name = item.stringValue else { throw APIError.badRequest("names[\(index)] must be text") }
                return name
            })
        }

        api.get("tags/governance") { request, _ in
            let jaccard = try Self.fraction(request, "jaccard", default: 0.9)
            let coverage = try Self.fraction(request, "coverage", default: 0.99)
            return try JSONResponse.make(try store.tagGovernance(jaccard: jaccard, coverage: coverage))
        }
    }

    // MARK: - Handlers

    /// The `:id` of the path, which must name a segment (404 if nothing has it, 400 if a tag does).
    private func segmentID(_ context: BasicRequestContext) throws -> String {
        let id = try TagRoutes.tagID(context)
        _ = try run { try store.segmentDefinition(id) }
        return id
    }

    private func preview(_ source: String) throws -> Response {
        let preview = try run { try store.previewSegment(source, now: nowMillis()) }
        let failed = preview.diagnostics.contains { $0.severity == .error }
        return try JSONResponse.make(preview, status: failed ? .unprocessableContent : .ok)
    }

    private func plan(_ change: TagDefinitionChange, _ request: Request, _ body: JSONObject) throws -> Response {
        let actor = request.headers[HTTPField.Name("X-Tagflow-Actor")!] ?? body["actor"]?.stringValue ?? "admin-api"
        let plan = try run { try store.planTags(change, actor: actor, now: nowMillis(), apply: true) }
        return try JSONResponse.make(plan, status: plan.hasErrors ? .unprocessableContent : .ok)
    }

    private func members(_ name: String, _ request: Request) throws -> Response {
        let limit = try AdminRoutes.limit(request)
        let after = Int64(request.uri.queryParameters["after"] ?? "0") ?? 0
        let members = try run { try store.members(of: name, after: after, limit: limit) }
        return try JSONResponse.make(SegmentMembersBody(
            members: members, next: members.count == limit ? members.last?.profile.rawValue : nil))
    }

    /// Every member, streamed in batches as CSV (with a byte-order mark, so spreadsheet programs read the
    /// Chinese right) or JSON lines; the membership is taken once, when the export starts.
    private func export(_ name: String, _ request: Request) throws -> Response {
        let format = request.uri.queryParameters["format"].map(String.init) ?? "csv"
        guard format == "csv" || format == "jsonl" else { throw APIError.badRequest("`format` is `csv` or `jsonl`") }
        let store = self.store
        let bitmap = try run { try store.membership(of: name) }
        let tag = SQLiteStore.tagID(in: name)
        let body = ResponseBody { writer in
            if format == "csv" { try await writer.write(ByteBuffer(string: "\u{FEFF}" + MemberExport.csvHeader)) }
            var numbers: [UInt32] = []
            numbers.reserveCapacity(MemberExport.batch)
            func flush() async throws {
                let members = try store.describe(numbers, of: tag)
                let text = members.map { format == "csv" ? MemberExport.csvLine($0) : MemberExport.jsonLine($0) }.joined()
                try await writer.write(ByteBuffer(string: text))
                numbers.removeAll(keepingCapacity: true)
            }
            for number in bitmap {
                numbers.append(number)
                if numbers.count == MemberExport.batch { try await flush() }
            }
            if !numbers.isEmpty { try await flush() }
            try await writer.finish(nil)
        }
        let file = name.replacingOccurrences(of: "=", with: "-")
        return Response(status: .ok, headers: [
            .contentType: format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
            .contentDisposition: "attachment; filename=\"\(file.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "export").\(format)\"",
            HTTPField.Name("X-Tagflow-Members")!: String(bitmap.count),
        ], body: body)
    }

    private func overlap(_ names: [String]) throws -> Response {
        guard names.count <= 64 else { throw APIError.badRequest("at most 64 names at once (\(names.count) sent)") }
        return try run { try JSONResponse.make(try store.overlap(names)) }
    }

    /// Runs a store call, answering segment errors as API errors.
    private func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SegmentError {
            throw Self.apiError(error)
        } catch TagError.unknownTag(let id) {
            throw APIError.notFound("segment `\(id)`")
        } catch TagError.invalidRules(let diagnostics) {
            throw APIError(.unprocessableContent, "invalid_rules", diagnostics.map(\.description).joined(separator: "\n"))
        }
    }

    private func runAsync<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as SegmentError {
            throw Self.apiError(error)
        }
    }

    static func apiError(_ error: SegmentError) -> APIError {
        switch error {
        case .unknown(let id): APIError.notFound("segment or tag `\(id)`")
        case .notASegment(let id):
            APIError.badRequest("`\(id)` is a tag, not a segment: see /api/tags/\(id), or write `segment \(id) ...` to define one")
        case .broken(let id, let problem): APIError(.conflict, "segment_broken", "segment `\(id)` is broken: \(problem)")
        }
    }

    /// The rule text of a segment request: `source` (JSON) or a text/plain body, defining only segments.
    static func segmentSource(_ body: JSONObject) throws -> String {
        guard let source = body["source"]?.stringValue else {
            throw APIError.badRequest("send the segment's rule text as `source` (JSON) or as a text/plain body")
        }
        let headers = RuleCompiler.headers(in: source)
        if let tag = headers.first(where: { $0.kind != "segment" }) {
            throw APIError.badRequest("`\(tag.id)` is defined with `tag`; segments start with `segment <id>` (tags go to /api/tags)")
        }
        return source
    }

    static func fraction(_ request: Request, _ name: String, default value: Double) throws -> Double {
        guard let raw = request.uri.queryParameters[Substring(name)] else { return value }
        guard let number = Double(String(raw)), (0...1).contains(number) else {
            throw APIError.badRequest("`\(name)` must be a number from 0 to 1")
        }
        return number
    }
}

/// How members are written in exports.
enum MemberExport {
    static let batch = 1000
    /// The identifier types with a column of their own; others go to `other_identifiers` as `type:value`.
    static let identifierColumns = ["user_id", "phone", "email", "wechat_unionid", "wechat_openid", "anonymous_id", "device_id"]
    static let csvHeader = (["profile_id", "since", "value"] + identifierColumns + ["other_identifiers"]).joined(separator: ",") + "\r\n"

    static func csvLine(_ member: SegmentMember) -> String {
        var fields = [String(member.profile.rawValue), member.since, member.value.map(valueText) ?? ""]
        for type in identifierColumns {
            fields.append(member.identifiers.filter { $0.type == type }.map(\.value).joined(separator: "|"))
        }
        fields.append(member.identifiers.filter { !identifierColumns.contains($0.type) }.map { "\($0.type):\($0.value)" }
            .joined(separator: "|"))
        return fields.map(csvField).joined(separator: ",") + "\r\n"
    }

    static func jsonLine(_ member: SegmentMember) -> String {
        var object: JSONObject = [
            "profile": .int(member.profile.rawValue), "since": .string(member.since),
            "identifiers": .array(member.identifiers.map { ["type": .string($0.type), "value": .string($0.value)] }),
        ]
        if let value = member.value { object["value"] = value }
        return JSONValue.object(object).jsonString + "\n"
    }

    static func valueText(_ value: JSONValue) -> String { value.stringValue ?? value.jsonString }

    /// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180); one that a spreadsheet
    /// would run as a formula (starting with `=`, `@`, or `+`/`-` not starting a number) gets a leading `'`.
    static func csvField(_ text: String) -> String {
        var text = text
        if let first = text.first, "=@".contains(first) || ("+-".contains(first) && Double(text.dropFirst()) == nil) {
            text = "'" + text
        }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

struct SizeBody: Encodable {
    var segment: String
    var size: Int
    var at: String
}

struct SegmentMembersBody: Encodable {
    var members: [SegmentMember]
    var next: Int64?
}

struct TransitionsBody: Encodable {
    var history: [SegmentTransition]
    var next: Int64?
}
