import Testing

@testable import TagflowCore

@Suite struct IdentifierExtractionTests {
    func identifiers(_ text: String, userId: String? = nil, anonymousId: String? = nil) throws -> [Identifier] {
        guard case .object(let object) = try JSONParser.parse(text) else { return [] }
        return IdentifierExtraction.identifiers(in: object, userId: userId, anonymousId: anonymousId,
                                                sourceName: "mp", policy: .standard)
    }

    @Test func readsEveryKnownPlaceStrongestFirst() throws {
        let found = try identifiers(#"""
            {"traits":{"phone":"+86 138-0013-8000","email":" Zhang@Example.COM ","wechat_openid":"oX1","wechat_appid":"wxA",
                       "wechat_unionid":"uY2"},
             "context":{"device":{"id":"dev-9"},"externalIds":[{"id":"C-77","type":"CRM Id","collection":"users"}]}}
            """#, userId: "u-1", anonymousId: "a-1")
        #expect(found == [
            Identifier("user_id", "u-1"), Identifier("wechat_unionid", "uY2"), Identifier("phone", "13800138000"),
            Identifier("email", "zhang@example.com"), Identifier("wechat_openid", "wxA/oX1"), Identifier("crm_id", "C-77"),
            Identifier("device_id", "dev-9"), Identifier("anonymous_id", "a-1"),
        ])
    }

    @Test func readsAMobileNumberBesideAPhoneNumberOnceEach() throws {
        let both = try identifiers(#"{"traits":{"phone":"13800138000","mobile":"+86 139 0013 9000"}}"#, anonymousId: "a")
        #expect(both == [Identifier("phone", "13800138000"), Identifier("phone", "13900139000"), Identifier("anonymous_id", "a")])
        let same = try identifiers(#"{"traits":{"phone":"13800138000","mobile":"138-0013-8000"}}"#, anonymousId: "a")
        #expect(same == [Identifier("phone", "13800138000"), Identifier("anonymous_id", "a")])
        let mobileOnly = try identifiers(#"{"context":{"traits":{"mobile":"13800138000"}}}"#, anonymousId: "a")
        #expect(mobileOnly == [Identifier("phone", "13800138000"), Identifier("anonymous_id", "a")])
    }

    @Test func scopesAnOpenidWithoutAppIdBySource() throws {
        let found = try identifiers(#"{"context":{"wechat":{"openid":"oX1"}}}"#, anonymousId: "a")
        #expect(found.contains(Identifier("wechat_openid", "source:mp/oX1")))
    }

    @Test(arguments: ["null", "undefined", "0", "-1", "anonymous", "", "  ", "NULL", "00000000-0000-0000-0000-000000000000", "000"])
    func dropsJunkValues(value: String) throws {
        let found = try identifiers(#"{"context":{"device":{"id":"\#(value)"}}}"#, userId: value, anonymousId: "a-ok")
        #expect(found == [Identifier("anonymous_id", "a-ok")])
    }

    @Test func identifiersOfEqualPriorityKeepTheirOrder() throws {
        let found = try identifiers(#"""
            {"context":{"externalIds":[{"id":"Z-1","type":"zeta"},{"id":"A-1","type":"alpha"},{"id":"M-1","type":"mid"}]}}
            """#, userId: "u", anonymousId: "a")
        #expect(found == [Identifier("user_id", "u"), Identifier("zeta", "Z-1"), Identifier("alpha", "A-1"),
                          Identifier("mid", "M-1"), Identifier("anonymous_id", "a")])
    }

    @Test func aBlockedValueIsFoundWhateverItsLengthBeforeLowercasing() {
        var policy = IdentityPolicy.standard
        policy.blockedValues = ["k"]
        #expect(policy.isJunk("\u{212A}"))  // the Kelvin sign: three bytes, lowercased to "k"
        #expect(!policy.isJunk("k2"))
        #expect(!policy.isJunk("null"))  // no longer blocked
        policy.blockedValues.insert("a-rather-long-placeholder-value-of-the-crm")
        #expect(policy.isJunk(" A-RATHER-LONG-PLACEHOLDER-VALUE-OF-THE-CRM "))
        policy.blockedValues.insert(String(repeating: "x", count: 70))
        #expect(policy.isJunk(String(repeating: "X", count: 70)))
        #expect(!policy.isJunk(String(repeating: "x", count: 64)))
    }

    @Test(arguments: [
        ("13800138000", "13800138000"), ("+86 138 0013 8000", "13800138000"), ("0086-13800138000", "13800138000"),
        ("8613800138000", "13800138000"), ("(138) 0013-8000", "13800138000"), ("＋８６１３８００１３８０００", "13800138000"),
        ("+1 415 555 0100", "+14155550100"),
    ])
    func normalisesPhoneNumbers(raw: String, expected: String) {
        #expect(IdentifierExtraction.normalizedPhone(raw) == expected)
    }

    @Test(arguments: ["abc", "12", "+86", "1380013800012345678"])
    func refusesWhatIsNotAPhoneNumber(raw: String) {
        #expect(IdentifierExtraction.normalizedPhone(raw) == nil)
    }
}
