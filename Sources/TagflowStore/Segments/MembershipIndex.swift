import Roaring
import TagflowCore

/// Who has each tag and segment now, as compressed bitmaps of profile numbers: one bitmap per tag (its
/// members) and, for valued tags, one per value. Kept by every recorded tag change, in the same place the
/// changes are written, so the bitmaps and the engine never disagree.
///
/// A profile's number in the bitmaps is its id: ids are handed out densely from 1, and the bitmaps hold
/// 32-bit numbers, so a workspace holds up to 4,294,967,295 profiles.
struct MembershipIndex: Sendable {
    /// Members of every tag and segment that has any.
    private(set) var members: [String: RoaringBitmap] = [:]
    /// Members of every valued tag by value (the value's JSON text). Boolean tags have none.
    private(set) var byValue: [String: [String: RoaringBitmap]] = [:]
    /// The tags that take values (not boolean ones): their members are also kept by value.
    var valuedTags: Set<String>

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
        var valued: [String: [String: [UInt32]]] = [:]
        for profile in engine.profileIDsInEngine.sorted() {
            let number = Self.number(of: profile)
            for state in engine.tags(of: profile) {
                sorted[state.tag, default: []].append(number)
                if valuedTags.contains(state.tag) { valued[state.tag, default: [:]][state.value.json.jsonString, default: []].append(number) }
            }
        }
        members = sorted.mapValues { RoaringBitmap(sorted: $0) }
        byValue = valued.mapValues { $0.mapValues { RoaringBitmap(sorted: $0) } }
    }

    mutating func apply(_ change: TagChange) {
        let number = Self.number(of: change.profile)
        let valued = valuedTags.contains(change.tag)
        if valued, let old = change.old {
            let key = old.json.jsonString
            byValue[change.tag]?[key]?.remove(number)
            if byValue[change.tag]?[key]?.isEmpty == true { byValue[change.tag]?[key] = nil }
        }
        if let new = change.new {
            members[change.tag, default: []].insert(number)
            if valued { byValue[change.tag, default: [:]][new.json.jsonString, default: []].insert(number) }
        } else {
            members[change.tag]?.remove(number)
            if members[change.tag]?.isEmpty == true { members[change.tag] = nil }
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

    /// The members of a tag or segment (empty when nobody has it).
    func members(of tag: String) -> RoaringBitmap { members[tag] ?? [] }

    /// A valued tag's members by value (values as JSON text).
    func values(of tag: String) -> [String: RoaringBitmap] { byValue[tag] ?? [:] }

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
                let holders = members(of: tag)
                var selected: RoaringBitmap
                if !test.isBoolean {
                    selected = RoaringBitmap.union(values(of: tag).compactMap { key, bitmap in
                        guard let json = try? JSONParser.parse(key), test.accepts(RuleValue(json)) else { return nil }
                        return bitmap
                    })
                } else {
                    selected = test.accepts(.bool(true)) ? holders : []
                }
                if test.accepts(nil) { selected.formCombination(with: all().subtracting(holders), .or) }
                return selected
            }
        }
        return walk(plan)
    }
}
