import Foundation
import Testing

@testable import Roaring

/// The portable format as CRoaring speaks it: bitmaps written by pyroaring are read back exactly, and bitmaps
/// Tagflow writes are read by pyroaring exactly. CI installs pyroaring (`.ci/run`) and sets CI, so there the
/// test runs or fails; elsewhere it runs when python3 has pyroaring.
@Suite(.enabled(if: Pyroaring.isAvailable || ProcessInfo.processInfo.environment["CI"] != nil))
struct PyroaringInteropTests {
    /// Arrays, bitsets and runs, across container boundaries and at the top of the range.
    static let shapes: [(name: String, values: [UInt32])] = [
        ("sparse", (0..<500).map { UInt32($0) * 7919 }),
        ("dense", (0..<200_000).filter { $0 % 3 != 0 }.map { UInt32($0) }),
        ("runs", (0..<40).flatMap { block in (0..<1000).map { UInt32(block * 5000 + $0) } }),
        ("edges", [0, 1, 65535, 65536, 131_071, UInt32.max - 1, UInt32.max]),
        ("empty", []),
    ]

    @Test func readsWhatPyroaringWrites() throws {
        for shape in Self.shapes {
            let bytes = try Pyroaring.run("""
                import sys, json
                from pyroaring import BitMap
                b = BitMap(json.load(sys.stdin))
                b.run_optimize()
                sys.stdout.buffer.write(b.serialize())
                """, input: Data(String(describing: shape.values).utf8))
            let bitmap = try RoaringBitmap(portableBytes: [UInt8](bytes))
            #expect(Array(bitmap) == shape.values.sorted(), "\(shape.name)")
        }
    }

    @Test func pyroaringReadsWhatTagflowWrites() throws {
        for shape in Self.shapes {
            for optimized in [false, true] {
                var bitmap = RoaringBitmap(shape.values)
                if optimized { bitmap.optimize() }
                let output = try Pyroaring.run("""
                    import sys, json
                    from pyroaring import BitMap
                    print(json.dumps(list(BitMap.deserialize(sys.stdin.buffer.read()))))
                    """, input: Data(bitmap.portableBytes()))
                let values = try JSONDecoder().decode([UInt32].self, from: output)
                #expect(values == shape.values.sorted(), "\(shape.name), optimized: \(optimized)")
            }
        }
    }
}

enum Pyroaring {
    static let isAvailable: Bool = (try? run("import pyroaring", input: Data())) != nil

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs a Python program with `input` on its standard input; its standard output.
    static func run(_ program: String, input: Data) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", program]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "python3 failed: " + String(decoding: errors, as: UTF8.self))
        }
        return output
    }
}
