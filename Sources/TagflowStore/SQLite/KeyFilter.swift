import Foundation
import TagflowCore

/// A set of 64-bit keys that answers "perhaps" or "no": a blocked Bloom filter. Each key sets seven bits in
/// one 512-bit block, so a test reads one cache line; at ``bitsAKey`` bits a key about one "perhaps" in a
/// thousand is wrong. Kept as bytes in the database beside the keys it describes.
struct KeyFilter: Sendable, Equatable {
    private var words: [UInt64]
    private static let wordsPerBlock = 8
    /// At 16 bits a key one "perhaps" in a thousand is wrong (measured: 0.10 %; at 10 bits 0.96 %). A lookup
    /// tests every run's filter, so each false "perhaps" in any run reads a page: at 10 bits, with the dozen
    /// runs of a million messages, one new message in nine read one.
    static let bitsAKey = 16

    /// An empty filter sized for `capacity` keys.
    init(capacity: Int) {
        let blocks = max(1, (capacity * Self.bitsAKey + 511) / 512)
        words = Array(repeating: 0, count: blocks * Self.wordsPerBlock)
    }

    /// The filter `bytes` holds, or nil when they are not a filter's.
    init?(bytes: Data) {
        guard !bytes.isEmpty, bytes.count % (Self.wordsPerBlock * 8) == 0 else { return nil }
        words = bytes.withUnsafeBytes { raw in
            (0..<bytes.count / 8).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) }
        }
    }

    var bytes: Data {
        var data = Data(capacity: words.count * 8)
        for word in words { withUnsafeBytes(of: word.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    mutating func insert(_ key: Int64) {
        var (base, bits) = place(of: key)
        for _ in 0..<7 {
            words[base + Int(bits & 511) >> 6] |= 1 << (bits & 63)
            bits >>= 9
        }
    }

    func mayContain(_ key: Int64) -> Bool {
        var (base, bits) = place(of: key)
        for _ in 0..<7 {
            guard words[base + Int(bits & 511) >> 6] & 1 << (bits & 63) != 0 else { return false }
            bits >>= 9
        }
        return true
    }

    /// The key's block (its first word: from the key's high product with the block count) and its bits (a
    /// remix of the key, nine bits for each of seven).
    private func place(of key: Int64) -> (base: Int, bits: UInt64) {
        let k = UInt64(bitPattern: key)
        let blocks = UInt64(words.count / Self.wordsPerBlock)
        return (Int(k.multipliedFullWidth(by: blocks).high) * Self.wordsPerBlock, SplitMix64.mix(k ^ 0x5851_F42D_4C95_7F2D))
    }
}
