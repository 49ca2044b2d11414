import PropertyBased
import Testing
@testable import TagflowCore

/// Values packed into eight bytes come back as they went in, compare as they do, and the table frees only
/// what no profile holds.
@Suite struct ValueTableTests {
    /// A value of any kind, with the numbers and texts that packing must not confuse.
    static func value(_ random: inout SplitMix64) -> RuleValue {
        switch random.int(10) {
        case 0: return .null
        case 1: return .bool(random.int(2) == 0)
        case 2: return .number([0, -0.0, 1, -1.5, 1e300, -.infinity, .infinity, .leastNonzeroMagnitude][random.int(8)])
        case 3: return .number(Double(bitPattern: random.next()))  // any bits, NaNs included
        case 4: return .string(["", "p3", "玻尿酸", "1280", " 42 ", "i\(random.int(50))"][random.int(6)])
        case 7:  // text kept in place or not: numbers spelt as text, six characters or seven, equivalent spellings
            return .string(["inf", "NaN", "nan", "Infini", "sNaN", "nan(1)", "abcdef", "abcdefg", "K", "\u{212A}", "\u{212A}1", "K1",
                            "a;", "a\u{37E}", "KKK", "\u{212A}\u{212A}\u{212A}", "x`", "x\u{1FEF}", "e\u{301}", "\u{E9}", "+1", "0x1p3", "p 3", "Gold"][random.int(24)])
        case 5: return .time(Int64(random.int(1_000_000)) * 1000)
        case 6: return .list([.number(Double(random.int(3))), .string("x")])
        default: return .string("item-\(random.int(20))")
        }
    }

    @Test func packedValuesRoundTripAndCompareAsTheValues() async {
        await propertyCheck(count: 300, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            let table = ValueTable()
            let values = (0..<20).map { _ in Self.value(&random) }
            let packed = values.map(table.pack)
            for (value, p) in zip(values, packed) {
                let back = table.value(p)
                if case .number(let n) = value, n.isNaN {
                    guard case .number(let m) = back else { Issue.record("NaN came back as \(back) (seed \(seed))"); continue }
                    #expect(m.isNaN)
                } else {
                    #expect(back == value, "seed \(seed)")
                }
                #expect(table.number(p) == value.numberValue || (value.numberValue?.isNaN ?? false), "seed \(seed)")
            }
            for i in values.indices {
                for j in values.indices {
                    let bothNaN = values[i].numberValue?.isNaN == true && values[j].numberValue?.isNaN == true
                        && values[i].isNumber && values[j].isNumber
                    if bothNaN { continue }  // NaN is not equal to itself; packed, all NaNs are one value
                    #expect((packed[i] == packed[j]) == (values[i] == values[j]), "\(values[i]) vs \(values[j]) (seed \(seed))")
                }
            }
        }
    }

    @Test func shortTextThatReadsAsNoNumberIsKeptInPlace() {
        let table = ValueTable()
        for text in ["p3", "i1234", "gold", "active", "K", "\u{212A}", "x\u{1FEF}", ""] { _ = table.pack(.string(text)) }
        #expect(table.count == 0, "item ids, project codes and tiers need no table entry")
        for text in ["inf", "NaN", "snan", "1280", " p3", "玻尿酸", "seven c", "e\u{301}"] { _ = table.pack(.string(text)) }
        #expect(table.count == 8, "numbers spelt as text, longer or non-ASCII text are entries")
        let spellings = ["K", "\u{212A}", "KKK", "\u{212A}K\u{212A}", "\u{212A}\u{212A}\u{212A}", "a;", "a\u{37E}", "x`",
                         "x\u{1FEF}", "\u{E9}", "e\u{301}", "KKKKKK", "\u{212A}KKKK\u{212A}", "KKKKKKK", "\u{212A}KKKKKK"]
        for a in spellings {
            for b in spellings {
                #expect((table.pack(.string(a)) == table.pack(.string(b))) == (a == b), "\(a) and \(b): equal text packs equally")
            }
        }
    }

    @Test func aSweepFreesOnlyWhatIsNotHeldAndReusesIt() {
        // Given a table of a thousand texts of which profiles hold every third
        let table = ValueTable(smallest: 16)
        let packed = (0..<1000).map { table.pack(.string("order-\($0)")) }
        let held = packed.enumerated().filter { $0.offset % 3 == 0 }.map(\.element)
        #expect(table.needsSweep)
        // When it is swept
        table.sweep { mark in held.forEach(mark) }
        // Then the held values read back unchanged, the others are gone, and their entries are reused
        #expect(table.count == held.count)
        #expect(!table.needsSweep)
        for (i, p) in packed.enumerated() where i % 3 == 0 { #expect(table.value(p) == .string("order-\(i)")) }
        let fresh = table.pack(.string("new order"))
        #expect(table.count == held.count + 1)
        #expect(table.value(fresh) == .string("new order"))
        #expect(table.pack(.string("order-3")) == packed[3], "a held value keeps its entry")
        for i in [1, 2, 4, 998] {  // freed values, packed again, are entries of their own
            #expect(table.value(table.pack(.string("order-\(i)"))) == .string("order-\(i)"))
        }
    }
}

private extension RuleValue {
    var isNumber: Bool { if case .number = self { true } else { false } }
}
