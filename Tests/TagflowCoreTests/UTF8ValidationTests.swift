import PropertyBased
import Testing
@testable import TagflowCore

/// The parser's check of a document's UTF-8 says what the standard library's decoder says, and a document
/// that is not well-formed is read as its repair: the text objects keep of it is well-formed.
@Suite struct UTF8ValidationTests {
    /// Bytes near the edges of UTF-8: ASCII runs (long enough for the word-at-a-time path), encodings of
    /// scalars from every length class, and the lead and continuation bytes that make sequences ill-formed
    /// (overlong, surrogate, past U+10FFFF, truncated, stray).
    static func bytes(_ random: inout SplitMix64) -> [UInt8] {
        let edges: [UInt8] = [0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED,
                              0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        let scalars: [Unicode.Scalar] = ["a", "é", "玻", "\u{7FF}", "\u{800}", "\u{D7FF}", "\u{E000}", "\u{FFFF}",
                                         "\u{10000}", "😀", "\u{10FFFF}"]
        var out: [UInt8] = []
        for _ in 0..<random.int(12) {
            switch random.int(4) {
            case 0: out.append(contentsOf: Array(repeating: UInt8(ascii: "x"), count: random.int(20)))
            case 1: out.append(contentsOf: Array(String(scalars[random.int(scalars.count)]).utf8))
            case 2:
                var encoded = Array(String(scalars[random.int(scalars.count)]).utf8)
                encoded[random.int(encoded.count)] = edges[random.int(edges.count)]  // one byte changed
                out.append(contentsOf: encoded)
            default: out.append(edges[random.int(edges.count)])
            }
        }
        return out
    }

    @Test func agreesWithTheStandardLibrary() async {
        await propertyCheck(count: 2_000, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            let bytes = Self.bytes(&random)
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(bytes.withUnsafeBufferPointer(UTF8Validation.isValid) == expected, "\(bytes.map { String($0, radix: 16) })")
        }
    }

    @Test func aDocumentThatIsNotWellFormedIsReadAsItsRepair() throws {
        // Given a document whose string holds a stray continuation byte, a surrogate and a truncated sequence
        let document: [UInt8] = Array(#"{"properties":{"project":"玻"#.utf8) + [0x80] + Array("尿".utf8) + [0xED, 0xA0, 0x80]
            + Array("酸".utf8) + [0xE7, 0x8E] + Array(#""},"event":"view_item"}"#.utf8)
        #expect(String(validating: document, as: UTF8.self) == nil)

        // When it is parsed
        let value = try JSONParser.parse(document)

        // then the string reads as the decoder repairs it, and the text kept of every object is well-formed
        // and parses to the same value
        let repaired = String(decoding: document, as: UTF8.self)
        #expect(value["properties"]?["project"] == .string(String(decoding: Array("玻".utf8) + [0x80] + Array("尿".utf8)
            + [0xED, 0xA0, 0x80] + Array("酸".utf8) + [0xE7, 0x8E], as: UTF8.self)))
        for object in [value, value["properties"]!] {
            let text = Array(object.jsonUTF8)
            #expect(String(validating: text, as: UTF8.self) != nil)
            #expect(try JSONParser.parse(text) == object)
        }
        #expect(value.jsonString == repaired)
    }
}
