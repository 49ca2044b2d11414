import Roaring
import TagflowCore

/// Who has each tag and segment now, as compressed bitmaps of profile numbers: one bitmap per tag (its
/// members) and, for valued tags, one per value. Kept by every recorded tag change, in the same place the
/// changes are written, so the bitmaps and the engine never disagree.
///
/// A profile's number in the bitmaps is its id: ids are handed out densely from 1, and the bitmaps hold
/// 32-bit numbers, so a workspace holds up to 4,294,967,295 profiles.
struct MembershipIndex: Sendable {
    /// One tag's or segment's members, and a valued tag's members by value.
    private struct Holders: Sendable {
        /// A valued tag's holders are kept by value too.
        let valued: Bool
        var members = RoaringBitmap()
        var byValue: [RuleValue: RoaringBitmap] = [:]
    }

    /// Where each tag and segment that has had members is in ``holders`` (one lookup a change).
    private var places: [String: Int] = [:]
    private var holders: [Holders] = []
    /// The tags that take values (not boolean ones): their members are also kept by value.
    let valuedTags: Set<String>

    init(valuedTags: Set<String>) {
        self.valuedTags = valuedTags
    }

    init(tagSet: TagSet) {
        self.init(valuedTags: Set(tagSet.tags.filter { if case .boolean = $0.rule { false } else { true } }.map(\.id)))
    }

    static func number(of profile: ProfileID) -> UInt32 {
        guard let number = UInt32(exactly: profile.rawValue) else {
            preconditionFailure("profile \(profile) is beyond the 4,294,967,295 profiles a workspace can hold")
        }
        return number
    }

    /// The index of the tags `engine` holds.
    init(of engine: TagEngine) {
        self.init(tagSet: engine.tagSet)
        var sorted: [String: [UInt32]] = [:]
        var valued: [String: [RuleValue: [UInt32]]] = [:]
        for profile in engine.profileIDsInEngine.sorted() {
            let number = Self.number(of: profile)
            for state in engine.tags(of: profile) {
                sorted[state.tag, default: []].append(number)
                if valuedTags.contains(state.tag) { valued[state.tag, default: [:]][state.value, default: []].append(number) }
            }
        }
        for (tag, numbers) in sorted {
            places[tag] = holders.count
            holders.append(Holders(valued: valuedTags.contains(tag), members: RoaringBitmap(sorted: numbers),
                                   byValue: (valued[tag] ?? [:]).mapValues { RoaringBitmap(sorted: $0) }))
        }
    }

    mutating func apply(_ change: TagChange) {
        let number = Self.number(of: change.profile)
        let place = places[change.tag] ?? {
            places[change.tag] = holders.count
            holders.append(Holders(valued: valuedTags.contains(change.tag)))
            return holders.count - 1
        }()
        let valued = holders[place].valued
        if valued, let old = change.old {
            holders[place].byValue[old]?.remove(number)
            if holders[place].byValue[old]?.isEmpty == true { holders[place].byValue[old] = nil }
        }
        if let new = change.new {
            holders[place].members.insert(number)
            if valued { holders[place].byValue[new, default: []].insert(number) }
        } else {
            holders[place].members.remove(number)
        }
    }

    /// Up to `limit` numbers of `bitmap` after `after`, in order: a page of members.
    static func page(of bitmap: RoaringBitmap, after: Int64, limit: Int) -> [UInt32] {
        var numbers: [UInt32] = []
        var position = after < 0 ? 0 : bitmap.rank(UInt32(clamping: after))
        while numbers.count < limit, let number = bitmap.select(position) {
            numbers.append(number)
            position += 1
        }
        return numbers
    }

    private func held(_ tag: String) -> Holders? { places[tag].map { holders[$0] } }

    /// The members of a tag or segment (empty when nobody has it).
    func members(of tag: String) -> RoaringBitmap { held(tag)?.members ?? [] }

    /// A valued tag's members by value (values as JSON text).
    func values(of tag: String) -> [String: RoaringBitmap] {
        // Values that differ as rule values but read the same in JSON (a moment and its number) are one.
        (held(tag)?.byValue ?? [:]).reduce(into: [:]) { values, entry in
            values[entry.key.json.jsonString, default: []].formCombination(with: entry.value, .or)
        }
    }

    /// The profiles `plan` selects, with `everyone` the profiles `not` is taken against.
    func evaluate(_ plan: AudiencePlan, everyone: () -> RoaringBitmap) -> RoaringBitmap {
        var universe: RoaringBitmap?
        func all() -> RoaringBitmap {
            if let universe { return universe }
            universe = everyone()
            return universe!
        }
        func walk(_ plan: AudiencePlan) -> RoaringBitmap {
            switch plan {
            case .constant(let value): return value ? all() : []
            case .and(let a, let b): return walk(a).intersection(walk(b))
            case .or(let a, let b): return walk(a).union(walk(b))
            case .not(let a): return all().subtracting(walk(a))
            case .tagValue(let tag, let test):
                let members = members(of: tag)
                var selected: RoaringBitmap
                if !test.isBoolean {
                    // Each value as it reads back from JSON, as the API gives it.
                    selected = RoaringBitmap.union((held(tag)?.byValue ?? [:]).compactMap { value, bitmap in
                        test.accepts(RuleValue(value.json)) ? bitmap : nil
                    })
                } else {
                    selected = test.accepts(.bool(true)) ? members : []
                }
                if test.accepts(nil) { selected.formCombination(with: all().subtracting(members), .or) }
                return selected
            }
        }
        return walk(plan)
    }
}
