/// A figure per value — how many events (`distinct`, `top`, `count per`) or a sum (`sum per`) — as windows
/// and all-time features keep it for one profile.
///
/// Most profiles have a handful of values, so those are kept in one small array searched in order (no
/// hashing, a fraction of a dictionary's memory); past `largeCount` values a dictionary takes over. Values
/// are packed (``PackedValue``: 16 bytes an entry).
struct Tally: Sendable {
    private enum Storage {
        case small([(key: PackedValue, figure: Double)])
        case large([PackedValue: Double])
    }

    static let largeCount = 16

    private var storage = Storage.small([])

    var count: Int {
        switch storage {
        case .small(let entries): entries.count
        case .large(let figures): figures.count
        }
    }

    var isEmpty: Bool { count == 0 }

    /// The largest figure; nil when empty.
    var largest: Double? {
        switch storage {
        case .small(let entries): entries.lazy.map(\.figure).max()
        case .large(let figures): figures.values.max()
        }
    }

    /// Every value with its figure, in no particular order.
    var entries: [(key: PackedValue, figure: Double)] {
        switch storage {
        case .small(let entries): entries
        case .large(let figures): figures.map { ($0.key, $0.value) }
        }
    }

    /// Adds `amount` to the figure of `key`; with `removingZero`, a figure left at zero is forgotten.
    mutating func add(_ amount: Double, to key: PackedValue, removingZero: Bool = false) {
        switch storage {
        case .small(var entries):
            storage = .small([])  // `entries` is the only reference: changed in place
            if let i = entries.firstIndex(where: { $0.key == key }) {
                entries[i].figure += amount
                if removingZero, entries[i].figure == 0 {
                    entries.remove(at: i)
                    entries.shrinkIfSparse()
                }
            } else if !(removingZero && amount == 0) {
                entries.reserveSlowly()  // (appending doubled the room: half of it empty after each growth)
                entries.append((key, amount))
            }
            if entries.count > Self.largeCount {
                storage = .large(Dictionary(entries.map { ($0.key, $0.figure) }, uniquingKeysWith: +))
            } else {
                storage = .small(entries)
            }
        case .large(var figures):
            storage = .small([])
            let figure = figures[key, default: 0] + amount
            figures[key] = removingZero && figure == 0 ? nil : figure
            storage = .large(figures)
        }
    }

    mutating func remove(_ key: PackedValue) {
        switch storage {
        case .small(var entries):
            storage = .small([])
            entries.removeAll { $0.key == key }
            entries.shrinkIfSparse()
            storage = .small(entries)
        case .large(var figures):
            storage = .small([])
            figures[key] = nil
            storage = .large(figures)
        }
    }

    /// The address of the storage its entries are in (for ``InnerArrays``' check of the layout).
    var storageAddress: UnsafeRawPointer {
        switch storage {
        case .small(let entries): unsafeBitCast(entries, to: UnsafeRawPointer.self)
        case .large(let figures): unsafeBitCast(figures, to: UnsafeRawPointer.self)
        }
    }

    /// Every value with its figure, in no particular order (no array made of them).
    func forEachEntry(_ body: (PackedValue, Double) -> Void) {
        switch storage {
        case .small(let entries): for entry in entries { body(entry.key, entry.figure) }
        case .large(let figures): for (key, figure) in figures { body(key, figure) }
        }
    }

    func forEachKey(_ body: (PackedValue) -> Void) {
        forEachEntry { key, _ in body(key) }
    }

    /// Both tallies' figures added up.
    func merging(_ other: Tally) -> Tally {
        var out = self
        other.forEachEntry { key, figure in out.add(figure, to: key) }
        return out
    }
}
