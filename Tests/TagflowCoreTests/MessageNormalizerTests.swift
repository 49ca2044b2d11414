import Testing

@testable import TagflowCore

@Suite struct MessageNormalizerTests {
    let normalizer = MessageNormalizer()
    let receivedAt = Timestamp.parse("2026-11-23T10:00:00Z")!

    func normalize(_ text: String, pathType: EventType? = nil, envelope: Envelope = Envelope()) throws
        -> Result<Event, Rejection>
    {
        normalizer.normalize(try JSONParser.parse(text), position: 3, pathType: pathType, envelope: envelope,
                             receivedAt: receivedAt, sourceName: "web")
    }

    @Test func correctsClockSkewWithTheEnvelopeSentAt() throws {
        // The device clock is 1 hour fast: it stamped the event at 11:00:00 and sent it at 11:00:05.
        let envelope = Envelope(sentAt: "2026-11-23T11:00:05Z")
        let event = try normalize(#"{"type":"track","event":"e","anonymousId":"a","originalTimestamp":"2026-11-23T11:00:00Z"}"#,
                                  envelope: envelope).get()

        #expect(event.timestamp == receivedAt - 5000)
        #expect(!event.clampedFromFuture)
    }

    @Test func messageSentAtWinsOverTheEnvelopes() throws {
        let envelope = Envelope(sentAt: "2026-11-23T11:00:05Z")
        let event = try normalize(#"""
            {"type":"track","event":"e","anonymousId":"a","originalTimestamp":"2026-11-23T09:00:00Z",
             "sentAt":"2026-11-23T09:00:30Z"}
            """#, envelope: envelope).get()
        #expect(event.timestamp == receivedAt - 30_000)
    }

    @Test func keepsAnExplicitTimestamp() throws {
        let event = try normalize(#"""
            {"type":"track","event":"e","userId":"u","timestamp":"2026-11-21T10:00:00.123456+00:00",
             "originalTimestamp":"2026-11-23T11:00:00Z","sentAt":"2026-11-23T11:00:05Z"}
            """#).get()
        #expect(event.timestamp == receivedAt - 2 * 86_400_000 + 123)
    }

    @Test func clampsAndFlagsTimestampsTooFarInTheFuture() throws {
        let event = try normalize(#"{"type":"track","event":"e","userId":"u","timestamp":"2026-11-24T10:00:00Z"}"#).get()
        #expect(event.timestamp == receivedAt)
        #expect(event.clampedFromFuture)
        #expect(event.payload["timestamp"] == "2026-11-24T10:00:00Z")

        let nearFuture = try normalize(#"{"type":"track","event":"e","userId":"u","timestamp":"2026-11-23T10:04:00Z"}"#).get()
        #expect(nearFuture.timestamp == receivedAt + 240_000)
        #expect(!nearFuture.clampedFromFuture)
    }

    @Test func usesTheReceiveTimeWhenNoTimeIsGiven() throws {
        let event = try normalize(#"{"event":"e","userId":42,"anonymousId":null,"timestamp":null,"properties":null}"#,
                                  pathType: .track).get()
        #expect(event.timestamp == receivedAt)
        #expect(event.userId == "42")
        #expect(event.type == .track)
        #expect(event.receivedAt == receivedAt)
    }

    @Test func aMessageThatNeedsNoChangeIsStoredExactlyAsSent() throws {
        let text = #"{"type": "track", "event": "view_item", "userId": "u1", "properties": {"project": "玻尿酸"}}"#
        let event = try normalize(text).get()
        #expect(event.payloadJSON == text)
    }

    @Test func thePathDecidesTheTypeOfASingleMessage() throws {
        let event = try normalize(#"{"type":"track","name":"首页","anonymousId":"a"}"#, pathType: .page).get()
        #expect(event.type == .page)
        #expect(event.name == "首页")
    }

    @Test func envelopeContextFillsInWhatTheMessageLacks() throws {
        let envelope = Envelope(context: ["ip": "1.2.3.4", "locale": "zh-CN"], integrations: ["All": true])
        let event = try normalize(#"{"type":"track","event":"e","userId":"u","context":{"locale":"en-US"}}"#,
                                  envelope: envelope).get()
        #expect(event.payload["context"]?["ip"] == "1.2.3.4")
        #expect(event.payload["context"]?["locale"] == "en-US")
        #expect(event.payload["integrations"]?["All"] == true)
    }

    @Test(arguments: [
        (#"[1]"#, "not_an_object", nil),
        (#"{"event":"e","userId":"u"}"#, "missing_type", "type"),
        (#"{"type":"purchase","userId":"u"}"#, "unknown_type", "type"),
        (#"{"type":7,"userId":"u"}"#, "invalid_field", "type"),
        (#"{"type":"track","event":"e"}"#, "no_user_anon_id", "userId"),
        (#"{"type":"track","event":"e","userId":null,"anonymousId":""}"#, "no_user_anon_id", "userId"),
        (#"{"type":"track","userId":"u"}"#, "missing_event", "event"),
        (#"{"type":"track","event":"  ","userId":"u"}"#, "missing_event", "event"),
        (#"{"type":"track","event":"e","userId":{"id":1}}"#, "invalid_field", "userId"),
        (#"{"type":"track","event":"e","userId":"u","properties":[1]}"#, "invalid_field", "properties"),
        (#"{"type":"identify","userId":"u","traits":"vip"}"#, "invalid_field", "traits"),
        (#"{"type":"track","event":"e","userId":"u","timestamp":"yesterday"}"#, "invalid_timestamp", "timestamp"),
        (#"{"type":"track","event":"e","userId":"u","messageId":5}"#, "invalid_field", "messageId"),
        (#"{"type":"alias","userId":"u"}"#, "invalid_field", "previousId"),
        (#"{"type":"group","userId":"u"}"#, "invalid_field", "groupId"),
        (#"{"type":"track","event":"e","userId":"undefined","anonymousId":"null"}"#, "no_usable_identifier", "userId"),
    ] as [(String, String, String?)])
    func rejectsBadMessagesNamingTheReasonAndField(text: String, code: String, field: String?) throws {
        let result = try normalize(text)
        guard case .failure(let rejection) = result else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(rejection.code == code)
        #expect(rejection.field == field)
        #expect(rejection.position == 3)
        #expect(!rejection.message.isEmpty)
    }

    @Test func rejectsAMessageOverTheSizeLimit() throws {
        let big = String(repeating: "x", count: 33 * 1024)
        let result = try normalize(#"{"type":"track","event":"e","userId":"u","properties":{"blob":"\#(big)"}}"#)
        guard case .failure(let rejection) = result else {
            Issue.record("accepted an oversize message")
            return
        }
        #expect(rejection.code == "event_too_large")
    }

    @Test func takesIdentifyTraitsFromTraitsAndContextTraits() throws {
        let event = try normalize(#"""
            {"type":"identify","userId":"u","traits":{"name":"张三"},"context":{"traits":{"phone":"13800138000","name":"old"}}}
            """#).get()
        #expect(event.traits["name"] == "张三")
        #expect(event.traits["phone"] == "13800138000")
        #expect(event.identifiers.contains(Identifier("phone", "13800138000")))
    }
}
