import Testing

@testable import TagflowCore

@Suite struct JSONParserTests {
    @Test func parsesNestedDocumentsKeepingFieldOrder() throws {
        let value = try JSONParser.parse(#" {"b": [1, -2.5, true, null], "a": {"x": "玻尿酸"}, "c": 1e3} "#)
        #expect(value.objectValue?.keys == ["b", "a", "c"])
        #expect(value["b"] == [1, -2.5, true, nil])
        #expect(value["a"]?["x"] == "玻尿酸")
        #expect(value["c"] == .double(1000))
    }

    @Test(arguments: [
        ("0", JSONValue.int(0)), ("-0", .int(0)), ("999999999999999999", .int(999_999_999_999_999_999)),
        ("-999999999999999999", .int(-999_999_999_999_999_999)), ("9223372036854775807", .int(.max)),
        ("-9223372036854775808", .int(.min)), ("9223372036854775808", .double(9_223_372_036_854_775_808)),
        ("12.5", .double(12.5)), ("-3e2", .double(-300)), ("[1,[2,{\"a\":[3]}],4]", .array([1, .array([2, .object(["a": .array([3])])]), 4])),
    ])
    func readsNumbersAtTheEdgesOfIntegersAndNestedArrays(text: String, expected: JSONValue) throws {
        #expect(try JSONParser.parse(text) == expected)
    }

    @Test func findsTheEndOfAStringWhereverItsSpecialCharacterFallsInAWord() throws {
        let plain = String(repeating: "a", count: 24)
        for position in 0...24 {
            for (escaped, character) in [(#"\""#, "\""), (#"\\"#, "\\"), (#"\n"#, "\n"), (#"\u0001"#, "\u{1}"), (#"\u001f"#, "\u{1F}")] {
                let prefix = String(plain.prefix(position)), suffix = String(plain.dropFirst(position))
                #expect(try JSONParser.parse("\"\(prefix)\(escaped)\(suffix)\"") == .string(prefix + character + suffix))
            }
            let truncated = "\"" + String(plain.prefix(position))
            #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(truncated) }
            let raw = "\"" + String(plain.prefix(position)) + "\u{1}" + String(plain.dropFirst(position)) + "\""
            #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(raw) }
        }
    }

    @Test func fieldNamesMatchByTheirBytesAsJSONComparesThem() throws {
        // Given an object with two names that are canonically equivalent but spelled differently, and the
        // same name twice
        let object = try #require(try JSONParser.parse(#"{"caf\u00e9": 1, "cafe\u0301": 2, "项目": "a", "项目": "b"}"#).objectValue)
        // then each spelling finds its own field (RFC 8259 §8.3), and a repeated name its last
        #expect(object["caf\u{E9}"] == 1)
        #expect(object["cafe\u{301}"] == 2)
        #expect(object["项目"] == "b")
        #expect(object["cafe"] == nil && object["caf"] == nil && object["项"] == nil)
        var changed = object
        changed["cafe\u{301}"] = 3
        #expect(changed["caf\u{E9}"] == 1 && changed["cafe\u{301}"] == 3 && changed.fields.count == 4)
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONParser.parse(#""a\"b\\c\/d\n\u00e9\ud83d\ude00\u7389""#)
        #expect(value == .string("a\"b\\c/d\né😀玉"))
    }

    @Test(arguments: [
        (#"{"a": }"#, 1, 7, "expected a value"),
        ("{\n  \"a\": 1,\n  \"b\" 2\n}", 3, 7, "expected ':'"),
        (#"[1, 2"#, 1, 6, "end of input"),
        (#"{"a": tru}"#, 1, 7, "invalid literal"),
        (#""abc"#, 1, 1, "unterminated string"),
        (#"{"a": 1} x"#, 1, 10, "after the JSON value"),
        (#"01"#, 1, 2, "after the JSON value"),
    ])
    func reportsWhereTheTextIsWrong(text: String, line: Int, column: Int, message: String) {
        #expect {
            _ = try JSONParser.parse(text)
        } throws: { error in
            guard let error = error as? JSONSyntaxError else { return false }
            return error.line == line && error.column == column && error.message.contains(message)
        }
    }

    @Test func refusesNestingDeeperThanTheLimit() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(deep) }
        let fine = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect(throws: Never.self) { try JSONParser.parse(fine) }
    }

    @Test func anUnchangedObjectIsWrittenAsReceivedAndAChangedOneIsRewritten() throws {
        let text = #"{"type": "track", "properties": {"project" : "玻尿酸", "tags": [1, 2]}}"#
        guard case .object(var message) = try JSONParser.parse(text) else {
            Issue.record("not an object")
            return
        }
        #expect(JSONValue.object(message).jsonString == text)

        message["type"] = "page"

        #expect(JSONValue.object(message).jsonString == #"{"type":"page","properties":{"project" : "玻尿酸", "tags": [1, 2]}}"#)
        #expect(try JSONParser.parse(JSONValue.object(message).jsonString) == .object(message))
    }

    @Test func serialisationRoundTripsRandomDocuments() throws {
        var random = TestRandom(seed: 11)
        for _ in 0..<300 {
            let value = random.jsonValue(depth: 0)
            let text = value.jsonString
            #expect(try JSONParser.parse(text) == value, "\(text)")
        }
    }
}

/// Deterministic random values for the property tests.
struct TestRandom: RandomNumberGenerator {
    var source: SplitMix64

    init(seed: UInt64) {
        source = SplitMix64(seed: seed)
    }

    mutating func next() -> UInt64 { source.next() }

    mutating func int(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// Up to 40 characters, one in four of them one a string must escape (or a slash, or not ASCII).
    mutating func string() -> String {
        let plain = Array("abcdefghij z0123")
        let special = Array("\"\\/\n\t\u{1}\u{1F}玻尿酸😀")
        return String((0..<int(41)).map { _ in int(4) == 0 ? special[int(special.count)] : plain[int(plain.count)] })
    }

    mutating func jsonValue(depth: Int) -> JSONValue {
        switch int(depth > 3 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(int(2) == 0)
        case 2: return .int(Int64(bitPattern: next()) >> Int64(int(60)))
        case 3: return .double(Double(int(1_000_000)) / 7.0)
        case 4: return .string(string())
        case 5: return .array((0..<int(4)).map { _ in jsonValue(depth: depth + 1) })
        default:
            return .object(JSONObject((0..<int(4)).map { i in JSONField("k\(i)\(string())", jsonValue(depth: depth + 1)) }))
        }
    }
}
