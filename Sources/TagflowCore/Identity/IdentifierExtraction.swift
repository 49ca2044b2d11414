/// Finds the identifiers a message names, where senders put them (see `docs/identity.md`).
public enum IdentifierExtraction {
    /// Every usable identifier of `message`, strongest first, without duplicates or junk values.
    /// `userId` and `anonymousId` are given already read (they may have been numbers).
    public static func identifiers(
        in message: JSONObject, userId: String?, anonymousId: String?, sourceName: String, policy: IdentityPolicy
    ) -> [Identifier] {
        var found: [Identifier] = []
        found.reserveCapacity(4)
        func add(_ type: String, _ raw: String?) {
            guard let raw else { return }
            let value = raw.trimmingWhitespace()
            guard !policy.isJunk(value), !found.contains(Identifier(type, value)) else { return }
            found.append(Identifier(type, value))
        }
        let traits = personTraits(of: message)
        let context = message["context"]?.objectValue ?? JSONObject()
        let wechat = context["wechat"]?.objectValue ?? JSONObject()

        add(Identifier.userID, userId)
        add(Identifier.anonymousID, anonymousId)
        add(Identifier.deviceID, scalarString(context["device"]?["id"]))
        add(Identifier.phone, scalarString(traits["phone"]).flatMap(normalizedPhone))
        add(Identifier.phone, scalarString(traits["mobile"]).flatMap(normalizedPhone))
        add(Identifier.email, scalarString(traits["email"]).flatMap(normalizedEmail))
        let openid = scalarString(traits["wechat_openid"]) ?? scalarString(wechat["openid"])
        if let openid, !policy.isJunk(openid) {
            let appid = scalarString(traits["wechat_appid"]) ?? scalarString(wechat["appid"]) ?? "source:\(sourceName)"
            add(Identifier.wechatOpenID, "\(appid)/\(openid)")
        }
        add(Identifier.wechatUnionID, scalarString(traits["wechat_unionid"]) ?? scalarString(wechat["unionid"]))
        if case .array(let externalIDs)? = context["externalIds"] {
            for entry in externalIDs {
                guard let type = scalarString(entry["type"]).map(normalizedType), !type.isEmpty else { continue }
                add(type, scalarString(entry["id"]))
            }
        }
        return strongestFirst(found, policy: policy)
    }

    /// The identifiers by priority, highest first; equal priorities keep their order. (A message names
    /// one to three: an insertion sort.)
    static func strongestFirst(_ identifiers: [Identifier], policy: IdentityPolicy) -> [Identifier] {
        guard identifiers.count > 1 else { return identifiers }
        // Usually in order already (a user id, then an anonymous id): nothing to build.
        var previous = policy.priority(of: identifiers[0].type)
        var inOrder = true
        for identifier in identifiers.dropFirst() where inOrder {
            let priority = policy.priority(of: identifier.type)
            inOrder = priority <= previous
            previous = priority
        }
        if inOrder { return identifiers }
        var ranked = identifiers.map { (priority: policy.priority(of: $0.type), identifier: $0) }
        for i in 1..<ranked.count {
            var j = i
            while j > 0, ranked[j - 1].priority < ranked[j].priority {
                ranked.swapAt(j - 1, j)
                j -= 1
            }
        }
        return ranked.map(\.identifier)
    }

    /// The person's traits a message carries: `context.traits` (where RudderStack and analytics.js put them)
    /// overlaid by the message's own `traits`.
    public static func personTraits(of message: JSONObject) -> JSONObject {
        var merged = message["context"]?["traits"]?.objectValue ?? JSONObject()
        for field in message["traits"]?.objectValue?.fields ?? [] { merged[field.key] = field.value }
        return merged
    }

    /// A string, or a number written as one; nil for anything else.
    public static func scalarString(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let s)?: return s
        case .int(let i)?: return String(i)
        case .double(let d)? where d.isFinite:
            return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        default: return nil
        }
    }

    /// Mainland numbers lose their `+86` / `0086` prefix; separators go; other countries keep `+`.
    /// Nil when what is left is not 5–15 digits.
    public static func normalizedPhone(_ raw: String) -> String? {
        var text = String(raw.unicodeScalars.filter { !" -().\u{3000}".unicodeScalars.contains($0) })
        text = String(text.unicodeScalars.map { scalar -> Character in
            // Full-width digits and plus sign, as typed on Chinese keyboards.
            if (0xFF10...0xFF19).contains(scalar.value) || scalar.value == 0xFF0B {
                return Character(Unicode.Scalar(scalar.value - 0xFEE0) ?? scalar)
            }
            return Character(scalar)
        })
        if text.hasPrefix("+86") {
            text.removeFirst(3)
        } else if text.hasPrefix("0086") {
            text.removeFirst(4)
        } else if text.hasPrefix("86"), text.count == 13 {
            text.removeFirst(2)
        }
        let digits = text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        guard (5...15).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return text
    }

    /// Trimmed and lowercased; nil without an `@`.
    public static func normalizedEmail(_ raw: String) -> String? {
        let text = raw.trimmingWhitespace().lowercased()
        guard let at = text.firstIndex(of: "@"), at != text.startIndex, text.index(after: at) != text.endIndex else {
            return nil
        }
        return text
    }

    static func normalizedType(_ raw: String) -> String {
        raw.trimmingWhitespace().lowercased().replacingSpaces()
    }
}

extension String {
    fileprivate func replacingSpaces() -> String {
        String(map { $0 == " " || $0 == "-" ? "_" : $0 })
    }
}
