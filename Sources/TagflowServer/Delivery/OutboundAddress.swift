import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where Tagflow may send webhooks: http(s) URLs whose host is not on a private, loopback, link-local or
/// shared network, unless the configuration allows those (`allowPrivateDestinations`) — a destination URL
/// must not let an admin-API caller reach the machine's own services or its neighbours.
enum OutboundAddress {
    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    /// Checks a destination URL, resolving its host name.
    static func check(_ url: String, allowPrivate: Bool) throws {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw Refused(description: "`url` must be an http:// or https:// address (`\(url)` given)")
        }
        guard let host = parsed.host, !host.isEmpty else { throw Refused(description: "`url` has no host (`\(url)` given)") }
        guard !allowPrivate else { return }
        let addresses = try resolve(host)
        if let inside = addresses.first(where: isPrivate) {
            throw Refused(description: "`\(host)` is a private, loopback or link-local address (\(inside)); "
                + "set allowPrivateDestinations in the configuration to send there")
        }
    }

    /// The host's addresses as text (`10.0.0.5`, `::1`).
    static func resolve(_ host: String) throws -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let trimmed = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        guard getaddrinfo(trimmed, nil, &hints, &result) == 0, let first = result else {
            throw Refused(description: "the host `\(host)` cannot be resolved")
        }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(entry.pointee.ai_addr, entry.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                addresses.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            cursor = entry.pointee.ai_next
        }
        return addresses
    }

    /// Loopback, private (RFC 1918, unique local), link-local, shared (100.64/10) or unspecified.
    static func isPrivate(_ address: String) -> Bool {
        let lowered = address.lowercased()
        if lowered.contains(":") {
            if lowered == "::1" || lowered == "::" { return true }
            if lowered.hasPrefix("fc") || lowered.hasPrefix("fd") || lowered.hasPrefix("fe8") || lowered.hasPrefix("fe9")
                || lowered.hasPrefix("fea") || lowered.hasPrefix("feb") { return true }
            if lowered.hasPrefix("::ffff:") { return isPrivate(String(lowered.dropFirst(7))) }
            return false
        }
        let octets = address.split(separator: ".").compactMap { Int($0) }
        guard octets.count == 4 else { return true }
        switch (octets[0], octets[1]) {
        case (10, _), (127, _), (0, _): return true
        case (172, 16...31), (192, 168), (169, 254), (100, 64...127): return true
        default: return false
        }
    }
}
