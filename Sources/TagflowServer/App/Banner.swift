import Foundation

/// Writes a line to standard output at once (unbuffered, so a parent process reading a pipe sees it).
public func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// What `serve` and `demo` print for the operator.
public enum Banner {
    public static func text(host: String, port: Int, data: String, bootstrap: Bootstrap?) -> String {
        let shownHost = host == "0.0.0.0" ? "127.0.0.1" : host
        var lines = ["Tagflow listening on http://\(shownHost):\(port)", "  data directory: \(data)",
                     "  allocator:      \(Allocator.active)"]
        if let bootstrap { lines.append(credentials(bootstrap)) }
        return lines.joined(separator: "\n")
    }

    public static func credentials(_ bootstrap: Bootstrap) -> String {
        var lines: [String] = []
        if let token = bootstrap.adminToken { lines.append("  admin token:    \(token)") }
        if let key = bootstrap.writeKey { lines.append("  write key:      \(key)") }
        return lines.joined(separator: "\n")
    }
}
