import Foundation

/// Which memory allocator Tagflow runs on. With jemalloc installed (Debian and Ubuntu: `libjemalloc2`),
/// `tagflow` starts itself again with it preloaded: with 50 tags live, ingestion then spends ~10 % less CPU
/// an event than on glibc's malloc, whose slow paths (free chunks merged, then split again) took a fifth of
/// the request path's time — a request's thousand small objects live until the commit that stores them.
/// Freed pages go back to the system after a second, by a thread of jemalloc's own: a million profiles in
/// the engine take the memory they take on glibc's malloc (given back at once, every free pays a system call
/// and the gain is gone; kept ten seconds, the default, a profile took a third more).
///
/// `TAGFLOW_ALLOCATOR=system` keeps the system's malloc (`jemalloc` insists on it: refused where it is not
/// installed); a `MALLOC_CONF` already set is left as it is.
public enum Allocator {
    /// Where distributions install jemalloc's shared library.
    static let candidates = [
        "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
        "/usr/lib64/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2",
    ]
    /// Set in the environment of the process started again, so it never starts itself a third time.
    static let marker = "TAGFLOW_ALLOCATOR_CHOSEN"
    static let settings = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"

    /// Why `TAGFLOW_ALLOCATOR` cannot be followed.
    struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    /// The environment to start again with, jemalloc preloaded; nil to go on as we are: jemalloc not found,
    /// already preloaded, refused with `TAGFLOW_ALLOCATOR=system`, or this process is the one started again.
    /// `TAGFLOW_ALLOCATOR` other than `system` or `jemalloc`, or `jemalloc` where it is not installed, is refused.
    static func restart(environment: [String: String], isInstalled: (String) -> Bool) throws(Refusal) -> [String: String]? {
        let asked = environment["TAGFLOW_ALLOCATOR"]
        let library = candidates.first(where: isInstalled)
        switch asked {
        case nil, "system": break
        case "jemalloc" where library == nil:
            throw Refusal(description: "TAGFLOW_ALLOCATOR=jemalloc, but jemalloc is not installed (looked for "
                + candidates.joined(separator: ", ") + "; on Debian and Ubuntu: apt-get install libjemalloc2)")
        case "jemalloc": break
        case let other?:
            throw Refusal(description: "TAGFLOW_ALLOCATOR must be `system` or `jemalloc` (or unset), not `\(other)`")
        }
        let preloaded = environment["LD_PRELOAD"] ?? ""
        guard environment[marker] == nil, asked != "system", !preloaded.contains("jemalloc"), let library else { return nil }
        var next = environment
        next["LD_PRELOAD"] = preloaded.isEmpty ? library : library + ":" + preloaded
        if next["MALLOC_CONF"] == nil { next["MALLOC_CONF"] = settings }
        next[marker] = library
        return next
    }

    /// Starts this program again on jemalloc when ``restart(environment:isInstalled:)`` says so; returns
    /// (on the allocator it has) otherwise, or when the new start fails. Exits with the reason when
    /// `TAGFLOW_ALLOCATOR` cannot be followed.
    public static func preferJemalloc() {
        #if os(Linux)
        let next: [String: String]?
        do {
            next = try restart(environment: ProcessInfo.processInfo.environment,
                               isInstalled: { FileManager.default.isReadableFile(atPath: $0) })
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            exit(2)
        }
        guard let environment = next else { return }
        let strings = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { strings.forEach { free($0) } }
        execve("/proc/self/exe", CommandLine.unsafeArgv, strings)
        // Only reached when the new start failed: go on as we are.
        #endif
    }

    #if os(Linux)
    private typealias Control = @convention(c) (
        UnsafePointer<CChar>?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?, UnsafeMutableRawPointer?, Int
    ) -> Int32

    /// jemalloc's `mallctl`, when the process runs on jemalloc.
    private static var control: Control? {
        dlsym(nil, "mallctl").map { unsafeBitCast($0, to: Control.self) }
    }
    #endif

    /// Hands the pages of freed memory back to the system now (jemalloc keeps them a second: a
    /// measurement of what is held right after freeing much would count them); nothing on the system
    /// allocator.
    public static func releaseFreedPages() {
        #if os(Linux)
        _ = control?("arena.4096.purge", nil, nil, nil, 0)  // 4096: every arena (`MALLCTL_ARENAS_ALL`)
        #endif
    }

    /// The bytes the program holds from jemalloc now (its `stats.allocated`, brought up to date first); nil
    /// on the system allocator.
    public static var heapAllocatedBytes: Int? {
        #if os(Linux)
        guard let control else { return nil }
        var epoch: UInt64 = 1
        var current: UInt64 = 0
        var size = MemoryLayout<UInt64>.size
        _ = control("epoch", &current, &size, &epoch, MemoryLayout<UInt64>.size)
        var allocated = 0
        size = MemoryLayout<Int>.size
        guard control("stats.allocated", &allocated, &size, nil, 0) == 0 else { return nil }
        return allocated
        #else
        return nil
        #endif
    }

    /// The allocator this process runs on: `jemalloc` when its control function is loaded (nil: look in
    /// every object loaded), else `system`.
    public static var active: String {
        #if os(Linux)
        dlsym(nil, "mallctl") != nil ? "jemalloc" : "system"
        #else
        "system"  // Tagflow preloads jemalloc only on Linux
        #endif
    }
}
