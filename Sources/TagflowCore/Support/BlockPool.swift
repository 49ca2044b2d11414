#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPrefetch
import CThreadLocal
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
/// When a size has no free block, a free block up to half larger is handed out instead, with its size: a
/// profile's buffers grow through many sizes and leave their old blocks behind (with exact sizes only, a
/// fifth of the pool sat in its free lists at 20 events a profile). Memory given back stays in the pool for
/// the next block of its size or a little smaller: it is not returned to the system.
public enum BlockPool {
    /// Blocks are multiples of this, aligned to it (no element a buffer holds needs more).
    static let granule = 8
    /// The largest block the pools keep; larger ones go to the C allocator.
    static let largest = 4096

    /// A block of `bytes` or more — a free block up to half larger when there is none of this size — and its
    /// size, a multiple of 8: give it back with that size. A buffer giving room back asks for a block
    /// `below` the size of the one it has.
    static func allocate(atLeast bytes: Int, below: Int = .max) -> (UnsafeMutableRawPointer, Int) {
        guard bytes <= largest else {
            let rounded = (bytes + granule - 1) & ~(granule - 1)
            return (.allocate(byteCount: rounded, alignment: granule), rounded)
        }
        let (block, sizeClass) = ThreadPool.current.pointee.take(
            sizeClass: sizeClass(of: bytes), below: below > largest ? Int.max : below &>> 3)
        return (block, sizeClass &* granule)
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

    /// What the calling thread's pool holds unused: the bytes of the blocks in its free lists, and the
    /// untouched end of its latest region (for benchmarks: it walks every list).
    public static var threadUnusedBytes: (free: Int, untouched: Int) {
        ThreadPool.current.pointee.unusedBytes
    }
}

/// One thread's blocks. Reached through a C thread-local variable (``tagflow_thread_pool()``); a
/// thread-specific key as well, whose destructor makes it wait, whole, for a new thread to adopt it when its
/// thread ends (nothing is lost to threads that come and go).
struct ThreadPool {
    /// The first free block of each size class (each free block holds the address of the next).
    private let heads: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// A bit per size class: it has free blocks.
    private let stocked: UnsafeMutablePointer<UInt64>
    /// The unused end of the latest region.
    private var next: UnsafeMutableRawPointer?
    private var end: UnsafeMutableRawPointer?
    /// The size of the next region: doubling from 2 MB to 64 MB (a test's engine stays small).
    private var regionBytes = BlockPool.hugePage

    private static let classCount = BlockPool.largest / BlockPool.granule + 1

    init() {
        heads = .allocate(capacity: Self.classCount)
        heads.initialize(repeating: nil, count: Self.classCount)
        stocked = .allocate(capacity: Self.wordCount)
        stocked.initialize(repeating: 0, count: Self.wordCount)
    }

    private static let wordCount = (classCount + 63) / 64

    /// The smallest class from `sizeClass` to half above it (and below the class `below`) that has a free
    /// block.
    @inline(__always)
    private func stockedClass(from sizeClass: Int, below: Int) -> Int? {
        let last = Swift.min(sizeClass &+ sizeClass &>> 1, Self.classCount &- 1, below &- 1)
        guard last >= sizeClass else { return nil }
        var word = sizeClass &>> 6
        var bits = stocked[word] & (~0 &<< UInt64(sizeClass & 63))
        while true {
            if bits != 0 {
                let found = word &<< 6 &+ bits.trailingZeroBitCount
                return found <= last ? found : nil
            }
            word &+= 1
            guard word &<< 6 <= last else { return nil }
            bits = stocked[word]
        }
    }

    /// A block of the class, or of a larger one up to half above (and below the class `below`) when it has
    /// none free; and its class.
    @inline(__always)
    mutating func take(sizeClass: Int, below: Int = .max) -> (UnsafeMutableRawPointer, Int) {
        if let found = stockedClass(from: sizeClass, below: below), let block = heads[found] {
            let next = block.load(as: UnsafeMutableRawPointer?.self)
            heads[found] = next
            // The next take of this size reads that block's first word: ask for it now (a freed block is cold).
            if let next { tagflow_prefetch(next) } else { stocked[found &>> 6] &= ~(1 &<< UInt64(found & 63)) }
            return (block, found)
        }
        let bytes = sizeClass &* BlockPool.granule
        if let next, let end, end - next >= bytes {
            self.next = next + bytes
            return (next, sizeClass)
        }
        return (takeFromNewRegion(bytes), sizeClass)
    }

    @inline(__always)
    mutating func give(_ block: UnsafeMutableRawPointer, sizeClass: Int) {
        block.storeBytes(of: heads[sizeClass], as: UnsafeMutableRawPointer?.self)
        heads[sizeClass] = block
        stocked[sizeClass &>> 6] |= 1 &<< UInt64(sizeClass & 63)
    }

    var unusedBytes: (free: Int, untouched: Int) {
        var free = 0
        for sizeClass in 0..<Self.classCount {
            var block = heads[sizeClass]
            while let b = block {
                free += sizeClass * BlockPool.granule
                block = b.load(as: UnsafeMutableRawPointer?.self)
            }
        }
        return (free, next.flatMap { n in end.map { $0 - n } } ?? 0)
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
            if let raw = tagflow_thread_pool() { return raw.assumingMemoryBound(to: ThreadPool.self) }
            return adoptOrMake()
        }
    }

    private static func adoptOrMake() -> UnsafeMutablePointer<ThreadPool> {
        let pool = orphans.withLock { $0.popLast()?.pool } ?? {
            let pool = UnsafeMutablePointer<ThreadPool>.allocate(capacity: 1)
            pool.initialize(to: ThreadPool())
            return pool
        }()
        pthread_setspecific(key.value, pool)  // for its destructor: the pool waits for a new thread
        tagflow_set_thread_pool(pool)
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
                tagflow_set_thread_pool(nil)  // runs on the ending thread: it no longer owns the pool
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
