import PropertyBased
import Testing
@testable import TagflowCore

/// The block pool hands out blocks that never overlap a live one, takes back what it gave on any thread,
/// and reuses what it took back.
@Suite struct BlockPoolTests {
    @Test func liveBlocksNeverOverlapWhateverTheOrderOfTakingAndGiving() async {
        await propertyCheck(count: 100, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            // Given blocks of random sizes (some past the largest the pool keeps), each filled with a mark
            var live: [(block: UnsafeMutableRawPointer, bytes: Int, mark: UInt8)] = []
            for step in 0..<random.int(3_000) {
                if live.isEmpty || random.int(3) != 0 {
                    let asked = random.int(8) == 0 ? 1 + random.int(3 * BlockPool.largest) : 1 + random.int(600)
                    let (block, bytes) = BlockPool.allocate(atLeast: asked)
                    let granules = (asked + BlockPool.granule - 1) / BlockPool.granule
                    let most = (asked > BlockPool.largest ? granules : granules + granules / 2) * BlockPool.granule
                    #expect(bytes >= asked && bytes <= most, "seed \(seed): \(bytes) bytes for \(asked)")
                    let mark = UInt8(truncatingIfNeeded: step)
                    block.initializeMemory(as: UInt8.self, repeating: mark, count: bytes)
                    #expect(Int(bitPattern: block) % BlockPool.granule == 0, "seed \(seed)")
                    live.append((block, bytes, mark))
                } else {
                    // When one is given back, then its mark is whole: no other block was written over it
                    let (block, bytes, mark) = live.remove(at: random.int(live.count))
                    let intact = UnsafeRawBufferPointer(start: block, count: bytes).allSatisfy { $0 == mark }
                    #expect(intact, "seed \(seed): a block of \(bytes) bytes was written by another")
                    BlockPool.deallocate(block, bytes: bytes)
                }
            }
            for (block, bytes, mark) in live {
                #expect(UnsafeRawBufferPointer(start: block, count: bytes).allSatisfy { $0 == mark }, "seed \(seed)")
                BlockPool.deallocate(block, bytes: bytes)
            }
        }
    }

    @Test func aBlockGivenBackIsTheNextOfItsSize() {
        // Given a pool of its own (the thread's has the blocks of other tests) and a block of 40 bytes given back
        var pool = ThreadPool()
        let (first, sizeClass) = pool.take(sizeClass: 40 / 8)
        pool.give(first, sizeClass: sizeClass)
        // When the pool is asked for a block of that size, then it gets that block again
        #expect(pool.take(sizeClass: 40 / 8) == (first, 40 / 8))
    }

    @Test func aThreadsBlocksComeBackToItOnTheSameThread() {
        // Given a block given back on this thread
        let (first, bytes) = BlockPool.allocate(atLeast: 40)
        BlockPool.deallocate(first, bytes: bytes)
        // When the thread asks for one of the same size, then it gets that block again (the smallest free
        // size from it up is its own)
        let (second, again) = BlockPool.allocate(atLeast: bytes)
        #expect(second == first && again == bytes)
        BlockPool.deallocate(second, bytes: again)
    }

    @Test func aSizeWithNoFreeBlockTakesOneUpToHalfLargerRatherThanFreshMemory() {
        // Given a pool of its own with free blocks of 1,200 and of 2,000 bytes, none of 1,000
        var pool = ThreadPool()
        let (large, largeClass) = pool.take(sizeClass: 1_200 / 8)
        let (larger, largerClass) = pool.take(sizeClass: 2_000 / 8)
        pool.give(large, sizeClass: largeClass)
        pool.give(larger, sizeClass: largerClass)
        // When 1,000 bytes are asked for, then the block of 1,200 is handed out, with its size
        let (block, sizeClass) = pool.take(sizeClass: 1_000 / 8)
        #expect(block == large && sizeClass * 8 == 1_200)
        // And when 1,000 are asked for again, the one of 2,000 is too large: fresh memory instead
        let (other, otherClass) = pool.take(sizeClass: 1_000 / 8)
        #expect(other != larger && otherClass * 8 == 1_000)
        // And a size with free blocks of its own takes those first
        pool.give(block, sizeClass: sizeClass)
        pool.give(other, sizeClass: otherClass)
        #expect(pool.take(sizeClass: 1_000 / 8) == (other, otherClass))
        // And a buffer giving back room from a block of 1,200 bytes is not handed a free one of that size
        let (smaller, smallerClass) = pool.take(sizeClass: 1_000 / 8, below: 1_200 / 8)
        #expect(smaller != block && smallerClass * 8 == 1_000)
    }

    @Test func blocksTakenOnOneThreadCanBeGivenBackOnAnother() async {
        // Given blocks taken on several tasks at once and handed to others to give back
        let blocks = await withTaskGroup(of: [[Int]].self) { group in
            for task in 0..<8 {
                group.addTask {
                    (0..<2_000).map { i in
                        let (block, bytes) = BlockPool.allocate(atLeast: 8 + (i + task) % 300)
                        block.storeBytes(of: i, as: Int.self)
                        return [Int(bitPattern: block), bytes]
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(blocks.joined().map { $0[0] }).count == 8 * 2_000)  // no block was handed out twice
        await withTaskGroup(of: Void.self) { group in
            for taken in blocks {
                group.addTask {
                    for block in taken {
                        BlockPool.deallocate(UnsafeMutableRawPointer(bitPattern: block[0])!, bytes: block[1])
                    }
                }
            }
        }
    }

    @Test func largeArraysAreAlignedToTheirPagesAndGivenBackWhole() {
        for bytes in [1_000, 64 << 10, BlockPool.hugePage, 3 * BlockPool.hugePage + 5] {
            let block = BlockPool.allocateLarge(bytes: bytes)
            #expect(Int(bitPattern: block) % 64 == 0)
            if bytes >= BlockPool.hugePage { #expect(Int(bitPattern: block) % BlockPool.hugePage == 0) }
            block.initializeMemory(as: UInt8.self, repeating: 7, count: bytes)
            BlockPool.deallocateLarge(block, bytes: bytes)
        }
    }
}
