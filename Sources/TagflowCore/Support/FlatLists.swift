/// A list of small lists of numbers in two flat arrays (the lists one after the other, and where each
/// starts): reading one touches no separately allocated array and no reference count.
struct FlatLists {
    private var starts: [Int32] = [0]
    private var items: [Int32] = []

    init(_ lists: [[Int]]) {
        for list in lists {
            items.append(contentsOf: list.lazy.map { Int32($0) })
            starts.append(Int32(items.count))
        }
    }

    /// Calls `body` with each number of list `index`, in order.
    @inline(__always) func forEach(in index: Int, _ body: (Int) -> Void) {
        var i = Int(starts[index])
        let end = Int(starts[index &+ 1])
        while i < end {
            body(Int(items[i]))
            i &+= 1
        }
    }
}
