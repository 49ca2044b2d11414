import Crypto
import Foundation

/// Signs webhooks per Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`,
/// where the key is the base64-decoded part of a `whsec_` secret. During a rotation both secrets sign, and
/// the header lists both signatures, space-separated.
public enum WebhookSigner {
    public struct InvalidSecret: Error, CustomStringConvertible {
        public var description: String { "a signing secret is `whsec_` followed by base64" }
    }

    public static func signature(secret: String, id: String, timestamp: Int64, body: some Collection<UInt8>) throws -> String {
        guard secret.hasPrefix("whsec_"), let key = Data(base64Encoded: String(secret.dropFirst(6))) else { throw InvalidSecret() }
        var message = Array("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The three headers of a signed request.
    public static func headers(
        secrets: [String], id: String, timestamp: Int64, body: some Collection<UInt8>
    ) throws -> [(name: String, value: String)] {
        let signatures = try secrets.map { try signature(secret: $0, id: id, timestamp: timestamp, body: body) }
        return [("webhook-id", id), ("webhook-timestamp", String(timestamp)), ("webhook-signature", signatures.joined(separator: " "))]
    }

    /// Whether one of the signatures in `header` is `secret`'s for this message (compared in constant time).
    public static func verify(header: String, secret: String, id: String, timestamp: Int64, body: some Collection<UInt8>) -> Bool {
        guard let expected = try? signature(secret: secret, id: id, timestamp: timestamp, body: body) else { return false }
        let wanted = Array(expected.utf8)
        return header.split(separator: " ").contains { candidate in
            let given = Array(candidate.utf8)
            guard given.count == wanted.count else { return false }
            return zip(given, wanted).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }
}
