import CPrefetch

/// A growable run of elements owned by exactly one holder (it cannot be copied): the elements in one
/// block of a ``BlockPool`` (no header: the buffer knows its size), with the count and capacity kept beside
/// the pointer.
///
/// A profile keeps a few of these, millions of profiles at once: against an `Array` each saves the 32-byte
/// header of its storage, and reading one needs no reference count or uniqueness check. Grows by a quarter
/// (by at least 32 bytes), into whatever room the pool's block has (it may hand out a larger one), and gives
/// room back when over half of it is empty, as ``Swift/Array/reserveSlowly(_:)`` does for arrays.
struct SmallBuffer<Element>: ~Copyable {
    private var base: UnsafeMutablePointer<Element>?
    private var storedCount: Int32 = 0
    /// The size of the block in 8-byte granules (it may hold more than a whole number of elements; up to
    /// 16 GB).
    private var blockGranules: Int32 = 0

    private var blockBytes: Int { Int(blockGranules) &<< 3 }

    init() {}

    deinit {
        guard let base else { return }
        base.deinitialize(count: Int(storedCount))
        BlockPool.deallocate(base, bytes: blockBytes)
    }

    var count: Int { Int(storedCount) }
    var capacity: Int { blockBytes / MemoryLayout<Element>.stride }
    var isEmpty: Bool { storedCount == 0 }
    var indices: Range<Int> { 0..<count }

    subscript(index: Int) -> Element {
        unsafeAddress {
            precondition(index >= 0 && index < count, "SmallBuffer index out of range")
            return UnsafePointer(base! + index)
        }
        unsafeMutableAddress {
            precondition(index >= 0 && index < count, "SmallBuffer index out of range")
            return base! + index
        }
    }

    /// Starts loading the elements into the cache (see ``tagflow_prefetch``), up to eight lines of them.
    @inline(__always)
    func prefetch() {
        guard let base else { return }
        let start = Int(bitPattern: base)
        let end = start &+ Swift.min(count &* MemoryLayout<Element>.stride, 512)
        var line = start & ~63
        repeat {
            tagflow_prefetch(UnsafeRawPointer(bitPattern: line))
            line &+= 64
        } while line < end
    }

    // MARK: - Growing and shrinking

    /// Makes room for `extra` more elements, growing by a quarter (and at least by what is needed).
    mutating func reserveSlowly(_ extra: Int = 1) {
        let needed = count + extra
        guard needed > capacity else { return }
        reallocate(to: Swift.max(needed, count + Swift.max(count / 4, Swift.max(1, 32 / MemoryLayout<Element>.stride))))
    }

    /// Gives back room when more than half of it is empty.
    mutating func shrinkIfSparse() {
        guard capacity - count > Swift.max(1, count / 2) else { return }
        shrinkToFit()
    }

    /// Gives back the room beyond the elements (less than 16 bytes of it is the allocator's rounding).
    mutating func shrinkToFit() {
        guard (capacity - count) * MemoryLayout<Element>.stride >= 16 else { return }
        reallocate(to: count, shrinking: true)
    }

    /// `shrinking`: giving room back, the new block must be smaller than the one it has.
    private mutating func reallocate(to newCapacity: Int, shrinking: Bool = false) {
        precondition(newCapacity >= count && newCapacity * MemoryLayout<Element>.stride <= 8 * Int(Int32.max),
                     "SmallBuffer capacity out of range")
        precondition(MemoryLayout<Element>.alignment <= BlockPool.granule, "SmallBuffer elements need more alignment")
        let stride = MemoryLayout<Element>.stride
        var moved: UnsafeMutablePointer<Element>? = nil
        var movedBytes = 0
        if newCapacity > 0 {
            let (block, bytes) = BlockPool.allocate(atLeast: newCapacity * stride, below: shrinking ? blockBytes : .max)
            moved = block.bindMemory(to: Element.self, capacity: bytes / stride)
            movedBytes = bytes
            if let base { moved!.moveInitialize(from: base, count: count) }
        }
        if let base { BlockPool.deallocate(base, bytes: blockBytes) }
        base = moved
        blockGranules = Int32(movedBytes &>> 3)
    }

    // MARK: - Adding

    mutating func append(_ element: consuming Element) {
        reserveSlowly()
        (base! + count).initialize(to: element)
        storedCount += 1
    }

    /// Puts `elements` at `index`, moving the elements from there on up.
    mutating func insert(contentsOf elements: [Element], at index: Int) {
        precondition(index >= 0 && index <= count, "SmallBuffer index out of range")
        guard !elements.isEmpty else { return }
        reserveSlowly(elements.count)
        let gap = base! + index
        (gap + elements.count).moveInitialize(from: gap, count: count - index)
        elements.withUnsafeBufferPointer { gap.initialize(from: $0.baseAddress!, count: $0.count) }
        storedCount += Int32(elements.count)
    }

    /// Puts `count` copies of `value` at `index`, moving the elements from there on up.
    mutating func insert(repeating value: Element, count n: Int, at index: Int) {
        precondition(index >= 0 && index <= count && n >= 0, "SmallBuffer index out of range")
        guard n > 0 else { return }
        reserveSlowly(n)
        let gap = base! + index
        (gap + n).moveInitialize(from: gap, count: count - index)
        gap.initialize(repeating: value, count: n)
        storedCount += Int32(n)
    }

    // MARK: - Removing

    /// Removes the elements in `range`, moving those after it down.
    mutating func removeSubrange(_ range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "SmallBuffer range out of range")
        guard !range.isEmpty else { return }
        let start = base! + range.lowerBound
        start.deinitialize(count: range.count)
        start.moveInitialize(from: base! + range.upperBound, count: count - range.upperBound)
        storedCount -= Int32(range.count)
    }

    /// Removes the element at `index`, moving those after it down.
    @discardableResult
    mutating func remove(at index: Int) -> Element {
        precondition(index >= 0 && index < count, "SmallBuffer index out of range")
        let slot = base! + index
        let element = slot.move()
        slot.moveInitialize(from: slot + 1, count: count - index - 1)
        storedCount -= 1
        return element
    }

    mutating func removeLast(_ n: Int = 1) {
        precondition(n >= 0 && n <= count, "SmallBuffer cannot remove more than it holds")
        guard n > 0 else { return }
        (base! + (count - n)).deinitialize(count: n)
        storedCount -= Int32(n)
    }

    /// Removes the first `n` elements, moving the rest down.
    mutating func removeFirst(_ n: Int) {
        precondition(n >= 0 && n <= count, "SmallBuffer cannot remove more than it holds")
        guard n > 0 else { return }
        base!.deinitialize(count: n)
        base!.moveInitialize(from: base! + n, count: count - n)
        storedCount -= Int32(n)
    }

    /// Removes every element and gives the room back.
    mutating func removeAll() {
        removeLast(count)
        reallocate(to: 0)
    }

    /// Removes the elements `shouldRemove` picks, keeping the others in order.
    mutating func removeAll(where shouldRemove: (borrowing Element) -> Bool) {
        var kept = 0
        for index in 0..<count {
            let element = base! + index
            if shouldRemove(element.pointee) {
                element.deinitialize(count: 1)
            } else {
                if kept != index { (base! + kept).moveInitialize(from: element, count: 1) }
                kept += 1
            }
        }
        storedCount = Int32(kept)
    }

    mutating func swapAt(_ i: Int, _ j: Int) {
        precondition(i >= 0 && i < count && j >= 0 && j < count, "SmallBuffer index out of range")
        guard i != j else { return }
        swap(&base![i], &base![j])
    }

    // MARK: - Reading

    func firstIndex(where predicate: (borrowing Element) -> Bool) -> Int? {
        for index in 0..<count where predicate(base![index]) { return index }
        return nil
    }

    func forEach(_ body: (borrowing Element) -> Void) {
        for index in 0..<count { body(base![index]) }
    }

    /// Each element's address, for reading its memory as raw bytes.
    func forEachAddress(_ body: (UnsafeRawPointer) -> Void) {
        guard let base else { return }
        for index in 0..<count { body(UnsafeRawPointer(base + index)) }
    }

    /// The elements in a new array (for reports and tests).
    var array: [Element] {
        guard let base else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: count))
    }
}
