import Testing

@testable import TagflowCore

@Suite struct TimestampTests {
    static let base: EpochMillis = 1_763_886_900_000  // 2025-11-23T08:35:00Z

    static let forms: [(String, EpochMillis)] = [
        ("2025-11-23T08:35:00Z", base),
        ("2025-11-23T08:35:00.123Z", base + 123),
        ("2025-11-23T08:35:00.1Z", base + 100),
        ("2025-11-23T08:35:00.123456789Z", base + 123),
        ("2025-11-23T08:35:00.930+00:00", base + 930),
        ("2025-11-23T16:35:00+08:00", base),
        ("2025-11-23T16:35:00+0800", base),
        ("2025-11-23T03:35:00-05:00", base),
        ("2025-11-23 08:35:00", base),
        ("2025-11-23T08:35:00", base),
        ("2025-11-23T08:35Z", base),
        ("2025-11-23", base - 30_900_000),
        ("2025-11-23T08:35:00Z  ", base),  // trailing spaces, as some exports pad their columns
    ]

    @Test(arguments: forms)
    func parsesTheFormsSendersUse(text: String, expected: EpochMillis) {
        #expect(Timestamp.parse(text) == expected)
    }

    @Test(arguments: ["", "yesterday", "2025-13-01T00:00:00Z", "2025-02-30T00:00:00Z", "2025-11-23T25:00:00Z",
                      "2025-11-23T08:35:00.Z", "2025-11-23T08:35:00.1234567890Z", "2025-11-23T08:35:00Zjunk",
                      " 2025-11-23T08:35:00Z", "   "])
    func refusesWhatIsNotATimestamp(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test func formatRoundTripsAcrossCenturies() {
        var random = TestRandom(seed: 3)
        for _ in 0..<2000 {
            let millis = EpochMillis(random.next() % 8_000_000_000_000) - 2_000_000_000_000
            #expect(Timestamp.parse(Timestamp.format(millis)) == millis)
        }
    }
}
