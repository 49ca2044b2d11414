import Foundation
import Testing

@testable import TagflowServer

@Suite struct AllocatorTests {
    let installed = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"

    @Test func withJemallocInstalledTagflowStartsAgainWithItPreloadedAndFreedMemoryGivenBack() throws {
        let next = try #require(try Allocator.restart(environment: ["PATH": "/usr/bin"], isInstalled: { $0 == installed }))

        #expect(next["LD_PRELOAD"] == installed)
        #expect(next["MALLOC_CONF"] == Allocator.settings)
        #expect(next["PATH"] == "/usr/bin")
        #expect(next[Allocator.marker] == installed)
    }

    @Test func whatTheOperatorSetIsKeptBesideIt() throws {
        let next = try #require(try Allocator.restart(
            environment: ["LD_PRELOAD": "/opt/trace.so", "MALLOC_CONF": "narenas:4"], isInstalled: { $0 == installed }))

        #expect(next["LD_PRELOAD"] == installed + ":/opt/trace.so")
        #expect(next["MALLOC_CONF"] == "narenas:4")
    }

    @Test func noRestartWithoutJemallocWhenRefusedWhenPreloadedOrWhenAlreadyRestarted() throws {
        let anywhere: (String) -> Bool = { _ in true }
        #expect(try Allocator.restart(environment: [:], isInstalled: { _ in false }) == nil)
        #expect(try Allocator.restart(environment: ["TAGFLOW_ALLOCATOR": "system"], isInstalled: anywhere) == nil)
        #expect(try Allocator.restart(environment: ["LD_PRELOAD": "/usr/lib/libjemalloc.so.2"], isInstalled: anywhere) == nil)
        #expect(try Allocator.restart(environment: [Allocator.marker: installed], isInstalled: anywhere) == nil)
        #expect(try Allocator.restart(environment: ["TAGFLOW_ALLOCATOR": "jemalloc"], isInstalled: anywhere) != nil)
    }

    @Test func anUnknownChoiceOrJemallocWhereItIsMissingIsRefusedByName() {
        #expect { try Allocator.restart(environment: ["TAGFLOW_ALLOCATOR": "glibc"], isInstalled: { _ in true }) } throws: {
            "\($0)".contains("must be `system` or `jemalloc` (or unset), not `glibc`")
        }
        #expect { try Allocator.restart(environment: ["TAGFLOW_ALLOCATOR": "jemalloc"], isInstalled: { _ in false }) } throws: {
            "\($0)".contains("jemalloc is not installed") && "\($0)".contains("apt-get install libjemalloc2")
        }
    }

    /// The real executable: on jemalloc when this machine has it installed, on the system's malloc when told so.
    @Test func theServerSaysWhichAllocatorItRunsOn() throws {
        let hasJemalloc = Allocator.candidates.contains { FileManager.default.isReadableFile(atPath: $0) }
        let (first, second) = (TestDirectory(), TestDirectory())

        let preferred = try ChildServer(data: first.path)
        let system = try ChildServer(data: second.path, environment: ["TAGFLOW_ALLOCATOR": "system"])
        defer {
            preferred.kill(SIGTERM)
            system.kill(SIGTERM)
        }

        let preferredLog = try String(contentsOfFile: preferred.log, encoding: .utf8)
        #expect(preferredLog.contains("allocator:      \(hasJemalloc ? "jemalloc" : "system")"), "\(preferredLog)")
        let systemLog = try String(contentsOfFile: system.log, encoding: .utf8)
        #expect(systemLog.contains("allocator:      system"), "\(systemLog)")
    }
}
