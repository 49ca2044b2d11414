/// One typed identifier of a person: `phone:13800138000`, `user_id:u-42`, `wechat_openid:wx123/oAbc`.
public struct Identifier: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var type: String
    public var value: String

    public init(_ type: String, _ value: String) {
        self.type = type
        self.value = value
    }

    public var description: String { "\(type):\(value)" }

    public static func < (a: Identifier, b: Identifier) -> Bool {
        (a.type, a.value) < (b.type, b.value)
    }

    public static let userID = "user_id"
    public static let anonymousID = "anonymous_id"
    public static let deviceID = "device_id"
    public static let phone = "phone"
    public static let email = "email"
    public static let wechatOpenID = "wechat_openid"
    public static let wechatUnionID = "wechat_unionid"
}

/// A person's number in Tagflow. Dense and increasing, so audiences can keep them in bitmaps.
public struct ProfileID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var rawValue: Int64

    public init(_ rawValue: Int64) {
        self.rawValue = rawValue
    }

    public var description: String { String(rawValue) }

    public static func < (a: ProfileID, b: ProfileID) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
