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
                    let bytes = random.int(8) == 0 ? 1 + random.int(3 * BlockPool.largest) : 1 + random.int(600)
                    let block = BlockPool.allocate(bytes: bytes)
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

    @Test func aBlockGivenBackIsTheNextOfItsSizeOnTheSameThread() {
        // Given a block of 40 bytes given back
        let first = BlockPool.allocate(bytes: 40)
        BlockPool.deallocate(first, bytes: 40)
        // When the thread asks for one of the same size class (33–40 bytes), then it gets that block again
        let second = BlockPool.allocate(bytes: 35)
        #expect(second == first)
        BlockPool.deallocate(second, bytes: 35)
    }

    @Test func blocksTakenOnOneThreadCanBeGivenBackOnAnother() async {
        // Given blocks taken on several tasks at once and handed to others to give back
        let blocks = await withTaskGroup(of: [Int].self) { group in
            for task in 0..<8 {
                group.addTask {
                    (0..<2_000).map { i in
                        let block = BlockPool.allocate(bytes: 8 + (i + task) % 300)
                        block.storeBytes(of: i, as: Int.self)
                        return Int(bitPattern: block)
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(blocks.joined()).count == 8 * 2_000)  // no block was handed out twice
        await withTaskGroup(of: Void.self) { group in
            for (task, addresses) in blocks.enumerated() {
                group.addTask {
                    for (i, address) in addresses.enumerated() {
                        BlockPool.deallocate(UnsafeMutableRawPointer(bitPattern: address)!, bytes: 8 + (i + task) % 300)
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
