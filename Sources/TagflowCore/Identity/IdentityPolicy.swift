/// The rules OneID follows when it links identifiers and merges profiles.
public struct IdentityPolicy: Sendable, Equatable {
    /// Most identifiers of a type one profile may hold. A link or merge that would exceed it is refused.
    public var limits: [String: Int]
    /// Higher wins: the profile an event belongs to is the one its strongest identifier points at.
    public var priorities: [String: Int]
    /// Values that are never identifiers (compared lowercased, after trimming).
    public var blockedValues: Set<String> {
        didSet { blockedLengths = Self.lengths(of: blockedValues) }
    }
    /// The lengths in bytes of the blocked values, a bit each (the last bit: 63 or more): an ASCII value of
    /// another length is none of them, and is not lowercased and hashed to be looked up.
    private var blockedLengths: UInt64

    public init(limits: [String: Int], priorities: [String: Int], blockedValues: Set<String>) {
        self.limits = limits
        self.priorities = priorities
        self.blockedValues = blockedValues
        blockedLengths = Self.lengths(of: blockedValues)
    }

    private static func lengths(of values: Set<String>) -> UInt64 {
        values.reduce(0) { $0 | 1 << UInt64(min($1.utf8.count, 63)) }
    }

    public static let standard = IdentityPolicy(
        limits: [Identifier.userID: 1],
        priorities: [
            Identifier.userID: 100, Identifier.wechatUnionID: 90, Identifier.phone: 80, Identifier.email: 70,
            Identifier.wechatOpenID: 60, Identifier.deviceID: 20, Identifier.anonymousID: 10,
        ],
        blockedValues: ["", "null", "undefined", "0", "-1", "anonymous", "nil", "none", "nan", "[object object]"]
    )

    /// Custom identifier types rank between the WeChat openid and the device id.
    public func priority(of type: String) -> Int { priorities[type] ?? 50 }

    public func limit(of type: String) -> Int { limits[type] ?? Int.max }

    /// True for values such as `null`, `undefined`, `-1` or `00000000-0000-0000-0000-000000000000`.
    public func isJunk(_ value: String) -> Bool {
        var trimmed = value.trimmingWhitespace()
        // Read as bytes in place (every message's ids pass here; a UTF-8 view's iterator is slow).
        let (isASCII, onlyZerosAndDashes) = trimmed.withUTF8 { bytes in
            var (ascii, zeros) = (true, true)
            for byte in bytes {
                ascii = ascii && byte < 0x80
                zeros = zeros && (byte == UInt8(ascii: "0") || byte == UInt8(ascii: "-"))
            }
            return (ascii, zeros)
        }
        // ASCII keeps its length when lowercased.
        let mayBeBlocked = !isASCII || blockedLengths & 1 << UInt64(min(trimmed.utf8.count, 63)) != 0
        if mayBeBlocked, blockedValues.contains(trimmed.lowercased()) { return true }
        return onlyZerosAndDashes
    }
}

extension String {
    func trimmingWhitespace() -> String {
        // Most values begin and end with a visible ASCII character: nothing to trim.
        if let first = utf8.first, let last = utf8.last, (0x21...0x7E).contains(first), (0x21...0x7E).contains(last) {
            return self
        }
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
