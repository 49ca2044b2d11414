#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPrefetch
import Synchronization

/// Memory for the engine's small buffers (``SmallBuffer``): a million profiles keep four or five each, and
/// they grow and shrink with every few events.
///
/// Against the C allocator, a block here has no header (the owner knows its size: it says it again when it
/// gives the block back), is sized to 8 bytes and not 16, and comes from large regions the kernel backs with
/// 2 MB pages (the engine visits profiles at random across gigabytes: with 4 KB pages nearly every visit
/// also missed the TLB). Each thread takes blocks from a pool of its own — a free list per size, then the
/// unused end of its latest region — with no lock; a block may be given back on another thread than the one
/// that took it (it joins that thread's lists). Blocks over ``largest`` bytes come from the C allocator.
///
/// Memory given back stays in the pool for the next block of its size: it is not returned to the system.
public enum BlockPool {
    /// Blocks are multiples of this, aligned to it (no element a buffer holds needs more).
    static let granule = 8
    /// The largest block the pools keep; larger ones go to the C allocator.
    static let largest = 4096

    static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        guard bytes <= largest else { return .allocate(byteCount: bytes, alignment: granule) }
        return ThreadPool.current.pointee.take(sizeClass: sizeClass(of: bytes))
    }

    static func deallocate(_ block: UnsafeMutableRawPointer, bytes: Int) {
        guard bytes <= largest else { return block.deallocate() }
        ThreadPool.current.pointee.give(block, sizeClass: sizeClass(of: bytes))
    }

    @inline(__always)
    private static func sizeClass(of bytes: Int) -> Int { (bytes &+ (granule &- 1)) &>> 3 }

    /// Memory for one large array of the engine (its profiles' states, its timer queue's heap), aligned to 64 bytes:
    /// from 2 MB on, a region of its own backed by 2 MB pages where the system has them (the engine reads
    /// these arrays at random). Give it back with ``deallocateLarge(_:bytes:)`` and the same size.
    static func allocateLarge(bytes: Int) -> UnsafeMutableRawPointer {
        guard bytes >= hugePage else { return .allocate(byteCount: bytes, alignment: 64) }
        return mapRegion(roundedToHugePages(bytes))
    }

    static func deallocateLarge(_ block: UnsafeMutableRawPointer, bytes: Int) {
        guard bytes >= hugePage else { return block.deallocate() }
        let size = roundedToHugePages(bytes)
        munmap(block, size)
        reserved.subtract(size, ordering: .relaxed)
    }

    static let hugePage = 2 << 20

    private static func roundedToHugePages(_ bytes: Int) -> Int { (bytes + hugePage - 1) & ~(hugePage - 1) }

    /// `size` bytes (a multiple of 2 MB) of fresh memory, aligned to 2 MB and marked for 2 MB pages where the
    /// system has them; exactly that range is mapped (`munmap` gives it back).
    fileprivate static func mapRegion(_ size: Int) -> UnsafeMutableRawPointer {
        guard let mapped = mmap(nil, size + hugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapped != MAP_FAILED
        else { fatalError("BlockPool: the system refused \(size) bytes of memory (errno \(errno))") }
        let start = Int(bitPattern: mapped)
        let aligned = (start + hugePage - 1) & ~(hugePage - 1)
        if aligned > start { munmap(mapped, aligned - start) }
        munmap(UnsafeMutableRawPointer(bitPattern: aligned + size), start + hugePage - aligned)  // never empty
        let region = UnsafeMutableRawPointer(bitPattern: aligned)!
        #if os(Linux)
        _ = madvise(region, size, MADV_HUGEPAGE)  // only advice: without it the region has 4 KB pages
        #endif
        reserved.add(size, ordering: .relaxed)
        return region
    }

    /// The bytes mapped in 2 MB regions now: the pools' regions (never given back) and the engine's large
    /// arrays from ``allocateLarge(bytes:)`` (given back when freed).
    public static var reservedBytes: Int { reserved.load(ordering: .relaxed) }

    fileprivate static let reserved = Atomic<Int>(0)
}

/// One thread's blocks. Reached through a thread-specific key; when its thread ends it waits, whole, for a
/// new thread to adopt it (nothing is lost to threads that come and go).
private struct ThreadPool {
    /// The first free block of each size class (each free block holds the address of the next).
    private let heads: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// The unused end of the latest region.
    private var next: UnsafeMutableRawPointer?
    private var end: UnsafeMutableRawPointer?
    /// The size of the next region: doubling from 2 MB to 64 MB (a test's engine stays small).
    private var regionBytes = BlockPool.hugePage

    private static let classCount = BlockPool.largest / BlockPool.granule + 1

    private init() {
        heads = .allocate(capacity: Self.classCount)
        heads.initialize(repeating: nil, count: Self.classCount)
    }

    @inline(__always)
    mutating func take(sizeClass: Int) -> UnsafeMutableRawPointer {
        if let block = heads[sizeClass] {
            let next = block.load(as: UnsafeMutableRawPointer?.self)
            heads[sizeClass] = next
            // The next take of this size reads that block's first word: ask for it now (a freed block is cold).
            if let next { tagflow_prefetch(next) }
            return block
        }
        let bytes = sizeClass &* BlockPool.granule
        if let next, let end, end - next >= bytes {
            self.next = next + bytes
            return next
        }
        return takeFromNewRegion(bytes)
    }

    @inline(__always)
    mutating func give(_ block: UnsafeMutableRawPointer, sizeClass: Int) {
        block.storeBytes(of: heads[sizeClass], as: UnsafeMutableRawPointer?.self)
        heads[sizeClass] = block
    }

    /// Maps a new region (what is left of the old one, under 4 KB, stays unused).
    private mutating func takeFromNewRegion(_ bytes: Int) -> UnsafeMutableRawPointer {
        let size = regionBytes
        regionBytes = min(regionBytes * 2, 64 << 20)
        let region = BlockPool.mapRegion(size)
        next = region + bytes
        end = region + size
        return region
    }

    // MARK: - The current thread's pool

    static var current: UnsafeMutablePointer<ThreadPool> {
        @inline(__always) get {
            if let raw = pthread_getspecific(key.value) { return raw.assumingMemoryBound(to: ThreadPool.self) }
            return adoptOrMake()
        }
    }

    private static func adoptOrMake() -> UnsafeMutablePointer<ThreadPool> {
        let pool = orphans.withLock { $0.popLast()?.pool } ?? {
            let pool = UnsafeMutablePointer<ThreadPool>.allocate(capacity: 1)
            pool.initialize(to: ThreadPool())
            return pool
        }()
        pthread_setspecific(key.value, pool)
        return pool
    }

    /// The key, with what happens to a pool when its thread ends.
    private static let key = Key()

    private final class Key: Sendable {
        let value: pthread_key_t
        init() {
            var key = pthread_key_t()
            let status = pthread_key_create(&key) { raw in
                #if canImport(Glibc)
                guard let raw else { return }
                #endif
                ThreadPool.orphans.withLock { $0.append(Orphan(pool: raw.assumingMemoryBound(to: ThreadPool.self))) }
            }
            precondition(status == 0, "BlockPool: no thread-specific key (\(status))")
            value = key
        }
    }

    /// A pool whose thread ended, waiting for another.
    private struct Orphan: @unchecked Sendable {
        let pool: UnsafeMutablePointer<ThreadPool>
    }

    private static let orphans = Mutex<[Orphan]>([])
}
