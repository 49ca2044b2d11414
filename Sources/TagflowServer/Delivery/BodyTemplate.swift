import Mustache
import TagflowCore

/// A destination's body template: Mustache over the change event, so the body fits the receiver — a WeCom
/// or Feishu bot's `{"msgtype": "text", ...}`, an MA system's own schema. Values are escaped for JSON
/// strings (`{{data.name}}` inside quotes stays valid JSON); `{{{x}}}` inserts a value as is.
enum BodyTemplate {
    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    /// Escapes values for the inside of a JSON string.
    struct JSONStringContent: MustacheContentType {
        func escapeText(_ text: String) -> String {
            let quoted = JSONValue.string(text).jsonString
            return String(quoted.dropFirst().dropLast())
        }
    }

    static let registered: Void = MustacheContentTypes.register(JSONStringContent(), named: "JSON_STRING")

    static func compile(_ text: String) throws -> MustacheTemplate {
        _ = registered
        do {
            return try MustacheTemplate(string: "{{% CONTENT_TYPE: JSON_STRING}}" + text)
        } catch {
            throw Invalid(description: "the body template does not parse: \(error)")
        }
    }

    /// The body for `event` (the change event's JSON text).
    static func render(_ text: String, event: String) throws -> String {
        let template = try compile(text)
        let value = (try? JSONParser.parse(event)) ?? .null
        return template.render(context(value))
    }

    /// A JSON value as the dictionaries, arrays and scalars Mustache walks.
    static func context(_ value: JSONValue) -> Any {
        switch value {
        case .null: return ""
        case .bool(let b): return b
        case .int(let n): return n
        case .double(let d): return d
        case .string(let s): return s
        case .array(let items): return items.map(context)
        case .object(let object):
            return Dictionary(object.fields.map { ($0.key, context($0.value)) }, uniquingKeysWith: { a, _ in a })
        }
    }
}
