/// The engine keeps a few small arrays per profile, millions of them: growing them by doubling leaves a
/// third of their memory empty on average. These grow them by a quarter and give room back once most of
/// it is empty.
extension Array {
    /// Makes room for `extra` more elements, growing by a quarter (and at least by 32 bytes, as
    /// ``SmallBuffer`` does: a sequence's window grew by one entry at every event while small) when full.
    @inline(__always) mutating func reserveSlowly(_ extra: Int = 1) {
        let needed = count &+ extra
        let least = Swift.max(1, 32 / MemoryLayout<Element>.stride)
        if needed > capacity { reserveCapacity(Swift.max(needed, count &+ Swift.max(count / 4, least))) }
    }

    /// Gives back room when more than a third of it is empty.
    @inline(__always) mutating func shrinkIfSparse() {
        guard capacity &- count > Swift.max(1, count / 2) else { return }
        shrinkToFit()
    }

    /// Gives back the room beyond its elements. Less than 16 bytes of it is the allocator's rounding, which
    /// a copy would get again.
    mutating func shrinkToFit() {
        guard (capacity &- count) &* MemoryLayout<Element>.stride >= 16 else { return }
        var copy: [Element] = []
        copy.reserveCapacity(count)
        copy.append(contentsOf: self)
        self = copy
    }
}
