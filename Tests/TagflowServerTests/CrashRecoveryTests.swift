import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import TagflowCore

/// `tagflow serve` as a real child process, with its output in a file.
final class ChildServer {
    let process = Process()
    let port: Int
    let log: String

    init(data: String, environment: [String: String] = [:], arguments: [String] = []) throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tagflow")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw ChildServerError("the tagflow executable is not at \(binary.path); run `swift build` first")
        }
        log = data + "-serve-\(UUID().uuidString.prefix(6)).log"
        guard FileManager.default.createFile(atPath: log, contents: nil) else {
            throw ChildServerError("could not create the server's log file at \(log)")
        }
        process.executableURL = binary
        process.arguments = ["serve", "--data", data, "--port", "0"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["TAGFLOW_ADMIN_TOKEN": adminToken, "TAGFLOW_WRITE_KEY": writeKey]) { $1 }.merging(environment) { $1 }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        var found: Int?
        while found == nil, Date() < deadline, process.isRunning {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                found = Int(text[range].split(separator: ":").last ?? "")
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        guard let found else {
            process.terminate()
            throw ChildServerError("tagflow serve did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        port = found
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    func kill(_ signal: Int32) {
        _ = Foundation.kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { kill(SIGKILL) }
        try? FileManager.default.removeItem(atPath: log)
    }
}

struct ChildServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Sends batches with unique message ids from several clients and remembers which were acknowledged.
final class Load: Sendable {
    let clients = 4
    let batchSize = 50
    let acknowledged = Mutex<[String]>([])
    let attempted = Mutex<[[String]]>([])

    func batch(client: Int, number: Int) -> (ids: [String], body: ByteBuffer) {
        let ids = (0..<batchSize).map { "c\(client)-b\(number)-\($0)" }
        let body: JSONValue = ["batch": .array(ids.enumerated().map { i, id in
            ["type": "track", "event": "view_item", "messageId": .string(id), "anonymousId": .string("v\(i % 7)-\(client)"),
             "properties": ["project": "玻尿酸"]]
        })]
        return (ids, ByteBuffer(bytes: body.jsonBytes))
    }

    /// Runs until a request fails (the server died) or `maxBatches` per client were sent.
    func run(against url: String, maxBatches: Int) async {
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                group.addTask {
                    for number in 0..<maxBatches {
                        let (ids, body) = self.batch(client: client, number: number)
                        self.attempted.withLock { $0.append(ids) }
                        guard let status = try? await post(body, to: url) else { return }
                        if status == 200 { self.acknowledged.withLock { $0 += ids } }
                    }
                }
            }
        }
    }
}

func post(_ body: ByteBuffer, to url: String) async throws -> UInt {
    var request = HTTPClientRequest(url: url + "/v1/batch")
    request.method = .POST
    request.headers.add(name: "Authorization", value: "Basic " + Data("\(writeKey):".utf8).base64EncodedString())
    request.body = .bytes(body)
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(3))
    _ = try await response.body.collect(upTo: 1 << 16)
    return response.status.code
}

/// Every stored message id, in log order, read through the admin API.
func storedMessageIDs(_ url: String) async throws -> [String] {
    var ids: [String] = []
    var after: Int64 = 0
    while true {
        var request = HTTPClientRequest(url: url + "/api/events?limit=1000&after=\(after)")
        request.headers.add(name: "Authorization", value: "Bearer \(adminToken)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let page = arrayOf(try JSONParser.parse(Array(buffer: try await response.body.collect(upTo: 64 << 20)))["events"])
        ids += page.compactMap { $0["messageId"]?.stringValue }
        guard page.count == 1000, case .int(let last)? = page.last?["seq"] else { return ids }
        after = last
    }
}

@Suite(.serialized) struct CrashRecoveryTests {
    @Test func killNineDuringLoadLosesNoAcknowledgedEventAndStoresNoneTwice() async throws {
        let directory = TestDirectory()
        let load = Load()
        do {
            let server = try ChildServer(data: directory.path)
            let url = server.baseURL
            async let traffic: Void = load.run(against: url, maxBatches: 100_000)
            while load.acknowledged.withLock({ $0.count }) < 3000 { try await Task.sleep(for: .milliseconds(20)) }

            server.kill(SIGKILL)
            await traffic
        }

        let restarted = try ChildServer(data: directory.path)
        let stored = try await storedMessageIDs(restarted.baseURL)
        let acknowledged = load.acknowledged.withLock { $0 }
        #expect(Set(stored).count == stored.count, "an event was stored twice")
        #expect(Set(acknowledged).isSubset(of: Set(stored)), "\(Set(acknowledged).subtracting(stored).count) acknowledged events lost")

        // Clients resend whatever was not acknowledged (they resend whole batches): each event ends up stored once.
        for batch in load.attempted.withLock({ $0 }) {
            let client = Int(batch[0].dropFirst().prefix { $0 != "-" })!
            let number = Int(batch[0].split(separator: "-")[1].dropFirst())!
            #expect(try await post(load.batch(client: client, number: number).body, to: restarted.baseURL) == 200)
        }
        let final = try await storedMessageIDs(restarted.baseURL)
        let attempted = Set(load.attempted.withLock { $0 }.flatMap { $0 })
        #expect(final.count == attempted.count)
        #expect(Set(final) == attempted)
    }

    @Test func sigtermFinishesInFlightRequestsAndExitsCleanly() async throws {
        let directory = TestDirectory()
        let load = Load()
        let server = try ChildServer(data: directory.path)
        let url = server.baseURL
            async let traffic: Void = load.run(against: url, maxBatches: 100_000)
        while load.acknowledged.withLock({ $0.count }) < 2000 { try await Task.sleep(for: .milliseconds(20)) }

        server.kill(SIGTERM)
        await traffic

        #expect(server.process.terminationStatus == 0)
        let restarted = try ChildServer(data: directory.path)
        let stored = Set(try await storedMessageIDs(restarted.baseURL))
        #expect(Set(load.acknowledged.withLock { $0 }).isSubset(of: stored))
    }
}
