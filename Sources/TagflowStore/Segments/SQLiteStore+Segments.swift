import GRDB
import Roaring
import Synchronization
import TagflowCore

// Segments (audiences, 人群) are boolean definitions written `segment <id>` in the rule language and kept by
// the tag engine like tags, so time, late events and merges move them exactly as they move tags. Their
// members, like every tag's, are bitmaps in the membership index: sizes, overlaps, pages and exports are
// read from there.

// MARK: - Definitions

extension SQLiteStore {
    /// The latest version of every segment (deleted ones excluded), with sizes; broken ones with their problem.
    public func segmentDefinitions() throws -> [TagDefinitionRecord] {
        try definitions(segments: true)
    }

    /// One segment's latest version.
    public func segmentDefinition(_ id: String) throws -> TagDefinitionRecord {
        guard let record = try definitions(segments: true).first(where: { $0.id == id }) else {
            throw try isTagOrSegment(id) ? SegmentError.notASegment(id) : SegmentError.unknown(id)
        }
        return record
    }

    /// The latest versions of the tags (`segments: false`) or the segments, with member counts.
    func definitions(segments: Bool) throws -> [TagDefinitionRecord] {
        tagRuntime.withLock { runtime in
            runtime.records.values
                .filter { $0.status != .deleted && ($0.kind == "segment") == segments }
                .sorted { $0.id < $1.id }
                .map { record in
                    var record = record
                    if record.status == .active { record.members = runtime.index.members(of: record.id).count }
                    if record.status == .broken { record.problem = Self.problem(of: record, among: runtime.records) }
                    return record
                }
        }
    }

    /// Why a broken segment is broken: the definitions it refers to that are not active.
    static func problem(of record: TagDefinitionRecord, among records: [String: TagDefinitionRecord]) -> String {
        let references = RuleCompiler.headers(in: record.source).first?.references ?? []
        let missing = references.filter { records[$0]?.status != .active }.map { reference in
            "`\(reference)` (\(records[reference].map { $0.status.rawValue } ?? "never defined"))"
        }
        guard !missing.isEmpty else { return "it can be enabled again" }
        return "it refers to " + missing.joined(separator: ", ") + "; edit the segment or bring them back, then enable it"
    }

    private func isTagOrSegment(_ id: String) throws -> Bool {
        tagRuntime.withLock { $0.records[id].map { $0.status != .deleted } ?? false }
    }
}

// MARK: - Members

extension SQLiteStore {
    /// The profiles `name` selects now: a tag or segment id, or `tag=value` for the profiles whose valued tag
    /// has that value (`lifecycle=沉睡`, `score=80`).
    public func membership(of name: String) throws -> RoaringBitmap {
        try tagRuntime.withLock { runtime in
            if let (tag, raw) = Self.splitValue(name) {
                guard let record = runtime.records[tag], record.status == .active else { throw SegmentError.unknown(tag) }
                let values = runtime.index.values(of: tag)
                let parsed = (try? JSONParser.parse(raw)) ?? .string(raw)
                return values[parsed.jsonString] ?? values[JSONValue.string(raw).jsonString] ?? []
            }
            guard let record = runtime.records[name], record.status != .deleted else { throw SegmentError.unknown(name) }
            if record.status == .broken {
                throw SegmentError.broken(name, problem: Self.problem(of: record, among: runtime.records))
            }
            return runtime.index.members(of: name)
        }
    }

    /// The tag or segment a name (`id` or `id=value`) is about.
    public static func tagID(in name: String) -> String { splitValue(name)?.0 ?? name }

    private static func splitValue(_ name: String) -> (String, String)? {
        guard let equals = name.firstIndex(of: "=") else { return nil }
        return (String(name[..<equals]), String(name[name.index(after: equals)...]))
    }

    /// A page of the members of a tag or segment, by profile number, after `after`.
    public func members(of name: String, after: Int64, limit: Int) throws -> [SegmentMember] {
        try describe(MembershipIndex.page(of: try membership(of: name), after: after, limit: limit), of: Self.tagID(in: name))
    }

    /// Profiles (by number, from ``membership(of:)``) with their identifiers and since when they have the
    /// tag or are in the segment `tag`.
    public func describe(_ numbers: [UInt32], of tag: String) throws -> [SegmentMember] {
        guard !numbers.isEmpty else { return [] }
        let list = numbers.map(String.init).joined(separator: ",")
        let identifiers = try pool.read { db in
            var identifiers: [Int64: [SegmentMember.Identifier]] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT profile_id, type, value FROM identifiers WHERE profile_id IN (\(list)) ORDER BY profile_id, type, value
                """) {
                identifiers[row[0], default: []].append(SegmentMember.Identifier(type: row[1], value: row[2]))
            }
            return identifiers
        }
        let states = tagRuntime.withLock { runtime in numbers.map { runtime.engine.value(of: tag, for: ProfileID(Int64($0))) } }
        return zip(numbers, states).map { number, state in
            let id = Int64(number)
            return SegmentMember(
                profile: ProfileID(id), since: Timestamp.format(state?.since ?? 0),
                value: state.flatMap { $0.value == .bool(true) ? nil : $0.value.json }, identifiers: identifiers[id] ?? [])
        }
    }

    /// The profiles that exist now (not merged into another): what `not` is taken against.
    func everyone() throws -> RoaringBitmap {
        try pool.read { db in
            RoaringBitmap(sorted: try Int64.fetchAll(db, sql: "SELECT id FROM profiles WHERE merged_into IS NULL ORDER BY id")
                .map { MembershipIndex.number(of: ProfileID($0)) })
        }
    }
}

// MARK: - Overlap and governance

extension SQLiteStore {
    /// How the named tags, tag values and segments overlap: sizes, every pair's intersection, union and
    /// Jaccard index, and the profiles in all and in any of them.
    public func overlap(_ names: [String]) throws -> Overlap {
        let bitmaps = try names.map { try membership(of: $0) }
        var pairs: [Overlap.Pair] = []
        for i in names.indices {
            for j in names.indices where j > i {
                let both = bitmaps[i].intersectionCount(bitmaps[j])
                let either = bitmaps[i].count + bitmaps[j].count - both
                pairs.append(Overlap.Pair(a: names[i], b: names[j], both: both, either: either,
                                          jaccard: either == 0 ? 0 : Double(both) / Double(either)))
            }
        }
        return Overlap(
            sizes: Dictionary(names.enumerated().map { ($1, bitmaps[$0].count) }, uniquingKeysWith: { a, _ in a }),
            pairs: pairs, all: names.isEmpty ? 0 : RoaringBitmap.intersection(bitmaps).count,
            any: RoaringBitmap.union(bitmaps).count)
    }

    /// The overlap of every pair of active tags (segments excluded), flagging near-duplicates (Jaccard at or
    /// above `jaccard`), tags nobody has, and tags (nearly) everybody has (at least `coverage` of the profiles).
    /// A valued tag takes part value by value (`lifecycle=沉睡`), since most profiles have some value of it;
    /// one with more than `maxValues` values takes part as a whole and is not flagged for coverage.
    public func tagGovernance(jaccard threshold: Double = 0.9, coverage: Double = 0.99, maxValues: Int = 50) throws -> TagGovernance {
        let profiles = try pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM profiles WHERE merged_into IS NULL") ?? 0
        }
        // Each entry: its name, its members, and whether holding it for (nearly) everybody is suspect.
        let entries: [(name: String, members: RoaringBitmap, coverageMatters: Bool)] = tagRuntime.withLock { runtime in
            let tags = runtime.records.values.filter { $0.status == .active && $0.kind != "segment" }.map(\.id).sorted()
            return tags.flatMap { tag -> [(String, RoaringBitmap, Bool)] in
                let values = runtime.index.values(of: tag)
                guard runtime.index.valuedTags.contains(tag), !values.isEmpty else {
                    return [(tag, runtime.index.members(of: tag), !runtime.index.valuedTags.contains(tag))]
                }
                guard values.count <= maxValues else { return [(tag, runtime.index.members(of: tag), false)] }
                return values.map { key, bitmap in
                    let value = (try? JSONParser.parse(key)).map { $0.stringValue ?? $0.jsonString } ?? key
                    return ("\(tag)=\(value)", bitmap, true)
                }.sorted { $0.0 < $1.0 }
            }
        }
        let members = entries.map(\.members.count)
        var both = [[Int]](repeating: [Int](repeating: 0, count: entries.count), count: entries.count)
        var findings: [TagGovernance.Finding] = []
        for (i, entry) in entries.enumerated() {
            both[i][i] = members[i]
            if members[i] == 0 {
                findings.append(.init(kind: "nobody", tags: [entry.name], detail: "no profile has `\(entry.name)`"))
            } else if entry.coverageMatters, profiles > 0, Double(members[i]) >= coverage * Double(profiles) {
                let share = (1000 * Double(members[i]) / Double(profiles)).rounded() / 10
                findings.append(.init(kind: "everybody", tags: [entry.name],
                                      detail: "\(members[i]) of \(profiles) profiles (\(share) %) have `\(entry.name)`"))
            }
            for j in entries.indices where j > i {
                let count = entry.members.intersectionCount(entries[j].members)
                both[i][j] = count
                both[j][i] = count
                let either = members[i] + members[j] - count
                let index = either == 0 ? 0 : Double(count) / Double(either)
                if either > 0, index >= threshold {
                    let rounded = (index * 1000).rounded() / 1000
                    findings.append(.init(kind: "near_duplicate", tags: [entry.name, entries[j].name], detail:
                        "`\(entry.name)` and `\(entries[j].name)`: Jaccard \(rounded) (\(count) in both, \(either) in either)"))
                }
            }
        }
        return TagGovernance(profiles: profiles, tags: entries.map(\.name), members: members, both: both, findings: findings)
    }
}

// MARK: - History

extension SQLiteStore {
    /// Profiles entering and leaving a segment, newest first, before the entry `before`.
    public func segmentHistory(_ id: String, before: Int64?, limit: Int) async throws -> [SegmentTransition] {
        _ = try segmentDefinition(id)
        return try await tagHistory(profile: nil, tag: id, before: before, limit: limit).map {
            SegmentTransition(id: $0.id, profile: $0.profile, transition: $0.new == nil ? "exited" : "entered",
                              at: $0.at, cause: $0.cause, causeRef: $0.causeRef)
        }
    }

    /// The segment's size at the end of each day (or hour) in which it changed, oldest first, with the
    /// entries and exits of the period.
    public func segmentSizeHistory(_ id: String, hourly: Bool) throws -> [SizePoint] {
        _ = try segmentDefinition(id)
        let calendar = self.calendar
        return try pool.read { db in
            var points: [SizePoint] = []
            var size = 0
            var current: (start: EpochMillis, entered: Int, exited: Int)?
            func close() {
                guard let period = current else { return }
                points.append(SizePoint(period: Timestamp.format(period.start), size: size, entered: period.entered,
                                        exited: period.exited))
            }
            try HistoryFiles.forEachRow(
                of: .tag, is: id, below: .max, newestFirst: false, columns: "h.at, h.old IS NULL, h.new IS NULL", db
            ) { row in
                let at: EpochMillis = row[1]
                let entered = (row[2] as Bool) && !(row[3] as Bool), exited = !(row[2] as Bool) && (row[3] as Bool)
                guard entered || exited else { return true }
                let start = hourly ? at - ((at % 3_600_000) + 3_600_000) % 3_600_000 : calendar.startOfDay(at)
                if current?.start != start {
                    close()
                    current = (start, 0, 0)
                }
                size += entered ? 1 : -1
                current!.entered += entered ? 1 : 0
                current!.exited += exited ? 1 : 0
                return true
            }
            close()
            return points
        }
    }
}

// MARK: - Preview

extension SQLiteStore {
    /// What a segment text would hold, changing nothing. Segments made of tags (and, or, not, tag values) are
    /// computed from the tags' bitmaps at once; others are back-filled over the event history like a tag's
    /// dry run.
    public func previewSegment(_ source: String, now: EpochMillis) throws -> SegmentPreview {
        let headers = RuleCompiler.headers(in: source)
        guard let header = headers.first else {
            throw TagError.invalidRules([RuleDiagnostic(at: SourceLocation(line: 1, column: 1),
                                                        "expected `segment <id> \"display name\"` and a `when` line")])
        }
        guard headers.count == 1, header.kind == "segment" else { throw SegmentError.notASegment(header.id) }
        let (sources, current) = tagRuntime.withLock { runtime in
            let others = runtime.activeSources.filter { $0.key != header.id }.sorted { $0.key < $1.key }
                .map { TagRuntime.storedSource($0.key, $0.value) }
            return (others, runtime.index.members(of: header.id))
        }
        let (events, traits) = try pool.read { db in (try Self.knownEventNames(db), try Self.knownTraitKeys(db)) }
        let (tagSet, all) = RuleCompiler.compile(
            sources + [RuleSource(name: nil, text: source)], knownEvents: events, knownTraits: traits)
        let diagnostics = TagRuntime.relevant(all)
        guard let tagSet else { return SegmentPreview(method: "none", diagnostics: diagnostics, size: 0, gained: 0, lost: 0, sample: []) }
        if let plan = tagSet.audiencePlan(of: header.id) {
            let index = tagRuntime.withLock { $0.index }
            var universe: RoaringBitmap?
            var failure: (any Error)?
            let members = index.evaluate(plan) {
                do { universe = try everyone() } catch { failure = error }
                return universe ?? []
            }
            if let failure { throw failure }
            let gained = members.subtracting(current)
            return SegmentPreview(
                method: "bitmaps", diagnostics: diagnostics, size: members.count, gained: gained.count,
                lost: current.subtractingCount(members), sample: gained.prefix(10).map { ProfileID(Int64($0)) })
        }
        let plan = try planTags(.upsert([RuleSource(name: nil, text: source)]), actor: "preview", now: now, apply: false)
        guard let entry = plan.entries.first(where: { $0.tag == header.id }) else {
            return SegmentPreview(method: "replay", diagnostics: plan.diagnostics, size: 0, gained: 0, lost: 0, sample: [])
        }
        return SegmentPreview(method: "replay", diagnostics: plan.diagnostics, size: entry.membersAfter, gained: entry.gained,
                              lost: entry.lost, sample: entry.gainedSample)
    }
}
