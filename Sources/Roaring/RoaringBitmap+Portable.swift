/// A byte string that is not a bitmap in the portable Roaring format, and where it went wrong.
public struct RoaringFormatError: Error, CustomStringConvertible, Equatable {
    public var offset: Int
    public var message: String

    public var description: String { "not a portable Roaring bitmap: \(message) (at byte \(offset))" }
}

/// The portable Roaring format (the RoaringFormatSpec shared by CRoaring, pyroaring, Java and Go):
/// little-endian; a cookie, the keys and cardinalities, byte offsets, then each container as an array of
/// 16-bit values, a 8 KB bitset, or runs.
extension RoaringBitmap {
    static let cookieWithoutRuns: UInt32 = 12346
    static let cookieWithRuns: UInt32 = 12347
    /// With runs, the offsets are written only from this many containers on.
    static let offsetsFrom = 4

    /// The bitmap in the portable format.
    public func portableBytes() -> [UInt8] {
        let n = keys.count
        let hasRuns = containers.contains { if case .run = $0 { true } else { false } }
        var out: [UInt8] = []
        out.reserveCapacity(8 + 8 * n + containers.reduce(0) { $0 + $1.portableSize })
        if hasRuns {
            out.appendLittleEndian(Self.cookieWithRuns | UInt32(n - 1) << 16)
            var runFlags = [UInt8](repeating: 0, count: (n + 7) / 8)
            for (i, container) in containers.enumerated() {
                if case .run = container { runFlags[i / 8] |= 1 << UInt8(i % 8) }
            }
            out.append(contentsOf: runFlags)
        } else {
            out.appendLittleEndian(Self.cookieWithoutRuns)
            out.appendLittleEndian(UInt32(n))
        }
        for (key, container) in zip(keys, containers) {
            out.appendLittleEndian(key)
            out.appendLittleEndian(UInt16(container.cardinality - 1))
        }
        if !hasRuns || n >= Self.offsetsFrom {
            var offset = out.count + 4 * n
            for container in containers {
                out.appendLittleEndian(UInt32(offset))
                offset += container.portableSize
            }
        }
        for container in containers { container.writePortable(to: &out) }
        return out
    }

    /// Reads a bitmap in the portable format; every malformed input is an error naming what and where.
    public init(portableBytes bytes: [UInt8]) throws {
        var reader = ByteReader(bytes: bytes)
        let cookie: UInt32 = try reader.read("the cookie")
        let count: Int
        var runFlags: [UInt8] = []
        if cookie & 0xFFFF == Self.cookieWithRuns {
            count = Int(cookie >> 16) + 1
            runFlags = try reader.bytes((count + 7) / 8, "the run flags")
        } else if cookie == Self.cookieWithoutRuns {
            count = Int(try reader.read("the container count") as UInt32)
            guard count <= 65536 else { throw RoaringFormatError(offset: 4, message: "\(count) containers (at most 65,536)") }
        } else {
            throw RoaringFormatError(offset: 0, message: "unknown cookie \(cookie)")
        }
        var header: [(key: UInt16, cardinality: Int)] = []
        header.reserveCapacity(count)
        for i in 0..<count {
            let at = reader.position
            let key: UInt16 = try reader.read("the key of container \(i)")
            let cardinality = Int(try reader.read("the cardinality of container \(i)") as UInt16) + 1
            if let last = header.last, key <= last.key {
                throw RoaringFormatError(offset: at, message: "key \(key) of container \(i) does not follow \(last.key)")
            }
            header.append((key, cardinality))
        }
        if runFlags.isEmpty || count >= Self.offsetsFrom {
            _ = try reader.bytes(4 * count, "the container offsets")
        }
        for (i, (key, cardinality)) in header.enumerated() {
            let at = reader.position
            let container: Container
            if !runFlags.isEmpty, runFlags[i / 8] & (1 << UInt8(i % 8)) != 0 {
                let runCount = Int(try reader.read("the run count of container \(i)") as UInt16)
                var runs: [ValueRun] = []
                runs.reserveCapacity(runCount)
                for _ in 0..<runCount {
                    let run = ValueRun(start: try reader.read("a run of container \(i)"), length: try reader.read("a run of container \(i)"))
                    if Int(run.start) + Int(run.length) > 65535 || runs.last.map({ Int($0.end) + 1 >= Int(run.start) }) == true {
                        throw RoaringFormatError(offset: at, message: "runs of container \(i) overlap, touch or overflow")
                    }
                    runs.append(run)
                }
                container = .run(runs)
            } else if cardinality > Container.arrayLimit {
                container = .bitset(try Bitset { words in
                    var count = 0
                    for w in 0..<Bitset.wordCount {
                        words[w] = try reader.read("the bitset of container \(i)")
                        count += words[w].nonzeroBitCount
                    }
                    return count
                })
            } else {
                var values: [UInt16] = []
                values.reserveCapacity(cardinality)
                for _ in 0..<cardinality {
                    let value: UInt16 = try reader.read("the values of container \(i)")
                    if let last = values.last, value <= last {
                        throw RoaringFormatError(offset: at, message: "values of container \(i) are not increasing")
                    }
                    values.append(value)
                }
                container = .array(values)
            }
            guard container.cardinality == cardinality else {
                throw RoaringFormatError(
                    offset: at, message: "container \(i) holds \(container.cardinality) values, its header says \(cardinality)")
            }
            keys.append(key)
            containers.append(container)
        }
        guard reader.position == bytes.count else {
            throw RoaringFormatError(offset: reader.position, message: "\(bytes.count - reader.position) bytes after the bitmap")
        }
    }
}

extension Container {
    /// Bytes the container takes in the portable format.
    var portableSize: Int {
        switch self {
        case .run(let runs): return 2 + 4 * runs.count
        default: return cardinality > Self.arrayLimit ? 8192 : 2 * cardinality
        }
    }

    func writePortable(to out: inout [UInt8]) {
        switch self {
        case .run(let runs):
            out.appendLittleEndian(UInt16(runs.count))
            for run in runs {
                out.appendLittleEndian(run.start)
                out.appendLittleEndian(run.length)
            }
        default:
            if cardinality > Self.arrayLimit {
                asBitset().withWords { words in for word in words { out.appendLittleEndian(word) } }
            } else {
                for value in sortedValues() { out.appendLittleEndian(value) }
            }
        }
    }
}

extension [UInt8] {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var position = 0

    mutating func read<T: FixedWidthInteger>(_ what: String) throws -> T {
        let size = MemoryLayout<T>.size
        guard position + size <= bytes.count else {
            throw RoaringFormatError(offset: position, message: "ends inside \(what)")
        }
        var value: T = 0
        for i in 0..<size { value |= T(bytes[position + i]) << (8 * i) }
        position += size
        return value
    }

    mutating func bytes(_ count: Int, _ what: String) throws -> [UInt8] {
        guard position + count <= bytes.count else {
            throw RoaringFormatError(offset: position, message: "ends inside \(what)")
        }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }
}
