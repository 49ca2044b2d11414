import CPrefetch

/// Which of the engine's slots holds each profile.
///
/// OneID hands profile ids out in increasing order, so they are dense: most are found by index in an array
/// of four bytes an id, with no hashing. An id far beyond the others (a test's, an import's) goes to a
/// dictionary instead, so that one large id cannot make the array huge; it moves to the array once the
/// array has grown past it.
struct ProfileSlots {
    /// Slot + 1 of each id below `dense.count`; 0: no profile.
    private var dense: [Int32] = []
    /// The ids outside `0..<dense.count`.
    private var sparse: [ProfileID: Int32] = [:]
    private(set) var count = 0

    /// Ids up to this many beyond the held count go into the array.
    private static let headroom = 65_536

    subscript(id: ProfileID) -> Int32? {
        get {
            let raw = id.rawValue
            if raw >= 0, raw < dense.count {
                let slot = dense[Int(raw)]
                return slot == 0 ? nil : slot - 1
            }
            return sparse[id]
        }
        set {
            let old = self[id]
            count += (newValue == nil ? 0 : 1) - (old == nil ? 0 : 1)
            let raw = id.rawValue
            if raw >= 0, raw >= dense.count, newValue != nil, raw < 2 * (Int64(count) + Int64(Self.headroom)) {
                grow(toInclude: Int(raw))
            }
            if raw >= 0, raw < dense.count {
                dense[Int(raw)] = newValue.map { $0 + 1 } ?? 0
            } else {
                sparse[id] = newValue
            }
        }
    }

    /// Starts loading where the slot of `id` is kept.
    func prefetch(_ id: ProfileID) {
        let raw = id.rawValue
        if raw >= 0, raw < dense.count { dense.withUnsafeBufferPointer { tagflow_prefetch($0.baseAddress! + Int(raw)) } }
    }

    /// Every id held, in no particular order.
    var ids: [ProfileID] {
        var out = Array(sparse.keys)
        for (raw, slot) in dense.enumerated() where slot != 0 { out.append(ProfileID(Int64(raw))) }
        return out
    }

    /// Makes the array reach `raw` (at least doubling it), taking in the ids of the dictionary it now covers.
    private mutating func grow(toInclude raw: Int) {
        let size = Swift.max(raw + 1, dense.count * 2, 1024)
        dense.append(contentsOf: repeatElement(0, count: size - dense.count))
        for (id, slot) in sparse where id.rawValue >= 0 && id.rawValue < size {
            dense[Int(id.rawValue)] = slot + 1
            sparse[id] = nil
        }
    }
}
