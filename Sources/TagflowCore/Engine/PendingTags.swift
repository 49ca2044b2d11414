/// The tags one pass of the engine still has to evaluate, taken in dependency order (tag index order: a
/// tag comes after every tag it refers to), so a tag marked while the pass runs — one referring to a tag
/// that just changed — is evaluated later in the same pass.
struct PendingTags {
    private var marked: [Bool]
    private var first = Int.max
    private var last = -1

    init(tagCount: Int) {
        marked = Array(repeating: false, count: tagCount)
    }

    var isEmpty: Bool { last < 0 }

    mutating func mark(_ tag: Int) {
        guard !marked[tag] else { return }
        marked[tag] = true
        first = min(first, tag)
        last = max(last, tag)
    }

    mutating func markAll() {
        for tag in marked.indices { mark(tag) }
    }

    /// The lowest marked tag, unmarked; nil when none is left.
    mutating func next() -> Int? {
        while first <= last {
            let tag = first
            first += 1
            if marked[tag] {
                marked[tag] = false
                return tag
            }
        }
        first = .max
        last = -1
        return nil
    }
}
