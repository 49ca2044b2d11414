import Testing
@testable import TagflowCore

/// A million profiles hold tens of millions of these: their sizes are part of the memory budget
/// (docs/performance.md), and a field added carelessly would grow every one of them.
@Suite struct StateLayoutTests {
    @Test func perProfileRecordsKeepTheirSizes() {
        #expect(MemoryLayout<WindowSummary>.stride == 32)
        #expect(MemoryLayout<TagSlots.Slot>.stride == 24)
        #expect(MemoryLayout<TagSlots>.size == 16)
        #expect(MemoryLayout<ProfileState.FeatureSlot>.stride == 32)
        #expect(MemoryLayout<PackedValue>.stride == 8)
        #expect(MemoryLayout<SmallBuffer<Int64>>.size == 16)
        #expect(MemoryLayout<ProfileEvents>.size == 24)
        #expect(MemoryLayout<ProfileState>.stride == 96)
    }

    /// Every event in flight is a tree of these, and a rule's property lookup reads an object's fields one
    /// by one: a field was a whole cache line (64 bytes) while an object kept its source text as a slice.
    @Test func jsonValuesKeepTheirSizes() {
        #expect(MemoryLayout<JSONObject>.size == 24)
        #expect(MemoryLayout<JSONValue>.stride == 32)
        #expect(MemoryLayout<JSONField>.stride == 48)
    }

    @Test func theArraysSummariesKeepAreFoundWhereTheEngineLooks() {
        // The engine reads where a summary's tally or a sequence's steps are from the summary's memory, to ask
        // for them a visit ahead; were Swift to lay these types out otherwise, it would silently stop.
        #expect(InnerArrays.layoutHolds)
    }

    @Test func tooManyFeaturesAreRefusedWithTheirPlace() {
        // Given more distinct things to count than the limit (65,535 in use; 20 here, to stay quick)
        let text = (0...20).map { "tag t\($0)\n  when count(view where n = \($0)) >= 1\n" }.joined()
        // When the tags are compiled
        let (tagSet, diagnostics) = RuleCompiler.compile(
            [RuleSource(name: "many.tags", text: text)], knownEvents: nil, knownTraits: nil, featureLimit: 20)
        // Then they are refused, naming the tag that went past the limit
        #expect(tagSet == nil)
        let problem = diagnostics.first { $0.message.contains("more than 20 different things") }
        #expect(problem?.line == 2 * 20 + 1)
        #expect(RuleCompiler.compile([RuleSource(name: "many.tags", text: text)]).0 != nil)
    }
}
