import Foundation
import Testing

@testable import HedgerowCore

@Suite struct JSONReaderTests {
    func parse(_ text: String) throws -> JSONNode {
        try Array(text.utf8).withUnsafeBytes { try JSONReader.parse($0) }
    }

    func number(_ text: String) throws -> Double {
        guard case .number(let value) = try parse(text) else { throw JSONReader.Failure(message: "not a number: \(text)") }
        return value
    }

    /// The fast path (exact mantissa and power of ten) and the fallback must both give the correctly rounded
    /// Double: the same bits as the standard library's conversion, for every spelling a client may send.
    @Test func numbersAreCorrectlyRounded() throws {
        var generator = SystemRandomNumberGenerator()
        var texts = ["0", "-0", "1", "-1", "0.1", "0.5", "16", "3.0", "1e22", "1e23", "-2.5e-3", "123456789012345678901234567890",
                     "0.000001", "5e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "9007199254740993",
                     "0.30000000000000004", "1E5", "1e+5", "12.34e-5", "0.0000000000000000000000000123"]
        for _ in 0..<3000 {
            let value = Double(bitPattern: generator.next())
            guard value.isFinite else { continue }
            texts.append("\(value)")
            texts.append(String(format: "%.6f", value.truncatingRemainder(dividingBy: 1e6)))
            texts.append("\(Float.random(in: -100...100, using: &generator))")
            texts.append(String(Int.random(in: -1_000_000...1_000_000, using: &generator)))
        }
        for text in texts {
            let expected = try #require(Double(text), "\(text)")
            let parsed = try number(text)
            #expect(parsed.bitPattern == expected.bitPattern, "\(text): \(parsed) != \(expected)")
        }
    }

    @Test func numbersOutOfRangeBecomeInfinityForTheTensorChecksToRefuse() throws {
        #expect(try number("1e400") == .infinity)
        #expect(try number("-1e400") == -.infinity)
        #expect(try number("1e-400") == 0)
        #expect(try number("1" + String(repeating: "0", count: 400)) == .infinity)
    }

    @Test func onlyTheJSONGrammarIsAccepted() {
        let refused = ["01", "1.", ".5", "+1", "1e", "1e+", "-", "--1", "NaN", "Infinity", "-Infinity", "0x10", "[1,]", "[,1]", "[1 2]",
                       #"{"a" 1}"#, #"{"a":1,}"#, "{a:1}", "1 2", #""abc"#, "\"a\u{01}b\"", #""\x""#, #""\ud800""#, #""\udc00x""#,
                       #""\u12""#, "tru", "nul", "[", "{", "", "  ", "[1]]", "'a'"]
        for text in refused {
            #expect(throws: JSONReader.Failure.self, "\(text)") { try parse(text) }
        }
    }

    @Test func invalidUTF8InAStringIsRefused() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        #expect(throws: JSONReader.Failure.self) { try bytes.withUnsafeBytes { try JSONReader.parse($0) } }
    }

    @Test func stringsDecodeEscapes() throws {
        guard case .string(let text) = try parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#) else { Issue.record("not a string"); return }
        #expect(text == "a\"b\\c/d\n\té😀")
        guard case .string(let plain) = try parse(#""héllo""#) else { Issue.record("not a string"); return }
        #expect(plain == "héllo")
    }

    @Test func listsOfNumbersAreFlatAndMixedListsAreNot() throws {
        guard case .numbers(let values) = try parse("[1, -2.5, 3e2]") else { Issue.record("not flat"); return }
        #expect(values == [1, -2.5, 300])
        guard case .array(let mixed) = try parse("[1, [2], true, null]") else { Issue.record("not a list"); return }
        #expect(mixed.count == 4)
        guard case .numbers(let empty) = try parse(" [ ] ") else { Issue.record("not flat"); return }
        #expect(empty.isEmpty)
    }

    @Test func objectsKeepTheLastValueOfARepeatedKey() throws {
        let object = try parse(#"{"a": 1, "b": {"c": [true]}, "a": 2}"#)
        guard case .number(let a) = object["a"] else { Issue.record("no a"); return }
        #expect(a == 2)
        #expect(object["b"]?["c"]?.elements?.count == 1)
        #expect(object["missing"] == nil)
    }

    @Test func nestingIsBounded() throws {
        let ok = String(repeating: "[", count: JSONReader.maxDepth) + String(repeating: "]", count: JSONReader.maxDepth)
        _ = try parse(ok)
        let deep = String(repeating: "[", count: JSONReader.maxDepth + 1) + String(repeating: "]", count: JSONReader.maxDepth + 1)
        #expect(throws: JSONReader.Failure.self) { try parse(deep) }
        let objects = String(repeating: #"{"a":"#, count: 100_000) + "1" + String(repeating: "}", count: 100_000)
        #expect(throws: JSONReader.Failure.self) { try parse(objects) }
    }

    /// The example models' own test rows read the same as Foundation reads them.
    @Test func agreesWithFoundationOnTheExampleRows() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Models/digits/testset.json")
        let data = try Data(contentsOf: url)
        let foundation = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rows = try #require(foundation["inputs"] as? [[NSNumber]])
        let ours = try data.withUnsafeBytes { try JSONReader.parse($0) }
        let parsed = try #require(ours["inputs"]?.elements)
        #expect(parsed.count == rows.count)
        for (row, expected) in zip(parsed, rows) {
            guard case .numbers(let values) = row else { Issue.record("row not flat"); return }
            #expect(values.map(\.bitPattern) == expected.map(\.doubleValue.bitPattern))
        }
    }
}
