import Foundation
import HedgerowCore
import HedgerowSynchronizer
import Testing

/// Desired-state files that could crash or stall the synchronizer (issue 11): each must be refused with a located
/// problem. A regression here kills the test process (stack overflow, overflow trap) or hangs it (alias bomb).
@Suite struct DesiredStateParserHostileInputTests {
    let file = "/srv/hedgerow/Configs/desired-state.yaml"

    func problems(_ yaml: String) -> [String] {
        problems(Data(yaml.utf8))
    }

    func problems(_ bytes: Data) -> [String] {
        do {
            _ = try DesiredStateParser.parse(contents: bytes, file: file)
            Issue.record("accepted \(String(decoding: bytes.prefix(200), as: UTF8.self))")
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    /// `[[[[…` 100,000 deep overflowed Yams' recursive composer; so do `- - - …` and deep indentation.
    @Test func deepNestingIsRefusedBeforeYams() {
        let flow = "models: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(problems(flow).first?.contains("nested more than 128 levels") == true, "\(problems(flow))")
        let dashes = "models:\n  " + String(repeating: "- ", count: 100_000) + "x\n"
        #expect(problems(dashes).first?.contains("nested more than 128 levels") == true)
        var indented = "repository: /m\nmodels:\n"
        for depth in 0..<300 { indented += String(repeating: " ", count: depth + 1) + "k\(depth):\n" }
        #expect(problems(indented).first?.contains("nested more than 128 levels") == true)
        // Brackets inside quotes are text, not nesting; a plain ']' cannot hide real brackets.
        let quoted = "repository: \"" + String(repeating: "[", count: 500) + "\"\nmodels: []\n"
        #expect((try? DesiredStateParser.parse(contents: Data(quoted.utf8), file: file)) != nil)
        let hidden = "repository: /m\nx: a" + String(repeating: "]", count: 200) + "\nmodels: " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(problems(hidden).first?.contains("nested more than 128 levels") == true)
        let escaped = "repository: /m\nx: [ 'it''s" + String(repeating: "]", count: 200) + "' ]\nmodels: " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(problems(escaped).first?.contains("nested more than 128 levels") == true)
    }

    /// "Billion laughs": nine levels of ten aliases each. Refused at the first alias, with its line.
    @Test func aliasBombsAreRefused() {
        var yaml = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1..<10 { yaml += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        yaml += "repository: /m\nmodels: *a9\n"
        let found = problems(yaml)
        #expect(found.first?.hasPrefix("\(file):2:") == true, "\(found)")
        #expect(found.first?.contains("aliases (*name) are not supported") == true, "\(found)")
        // A '*' inside quotes or inside a word is not an alias.
        #expect((try? DesiredStateParser.parse(contents: Data("repository: \"*m\"\nworkers: [{name: a*b, address: 'h:1'}]\n".utf8), file: file)) != nil)
    }

    /// Yams reads `1:30:00` as base 60 and traps when that overflows (twelve digits); integers are decimal here, and bounded.
    @Test func hugeAndOddNumbersAreRefused() {
        let cases: [(String, String)] = [
            ("replicas: 99999999999:99:99:99:99:99:99", "models[0].replicas: expected an integer, found '99999999999:99:99:99:99:99:99'"),
            // Twelve base-60 digits: Yams' own reading multiplied 60^11 and trapped (the old parser used it).
            ("replicas: 1:00:00:00:00:00:00:00:00:00:00:00", "models[0].replicas: expected an integer, found '1:00:00:00:00:00:00:00:00:00:00:00'"),
            ("replicas: 1:30", "models[0].replicas: expected an integer"),
            ("replicas: 99999999999999999999", "models[0].replicas: expected an integer"),
            ("replicas: 1e3", "models[0].replicas: expected an integer"),
            ("replicas: 0x10", "models[0].replicas: expected an integer"),
            ("replicas: 1001", "models[0].replicas: must be ≤ 1000, got 1001"),
            ("replicas: -9223372036854775807", "models[0].replicas: expected an integer"),
            ("hedging: { maxDelayMs: 9223372036854775 }", "models[0].hedging.maxDelayMs: must be ≤ 86400000, got 9223372036854775"),
            ("hedging: { maxDelayMs: 86400001 }", "models[0].hedging.maxDelayMs: must be ≤ 86400000"),
            ("hedging: { timeoutMs: 999999999999 }", "models[0].hedging.timeoutMs: must be ≤ 86400000"),
            ("hedging: { percentile: .nan }", "models[0].hedging.percentile: expected a number"),
            ("hedging: { percentile: 1e400 }", "models[0].hedging.percentile: expected a number"),
            ("hedging: { budgetPercent: -.inf }", "models[0].hedging.budgetPercent: expected a number"),
            ("batching: { maxBatchSize: 1000001 }", "models[0].batching.maxBatchSize: must be ≤ 1000000"),
            ("batching: { maxDelayMicros: 60000001 }", "models[0].batching.maxDelayMicros: must be ≤ 60000000"),
            ("versions: { latest: 100000 }", "models[0].versions.latest: must be ≤ 1000"),
            ("labels: { stable: 9999999999999999999 }", "models[0].labels.stable: expected an integer"),
        ]
        for (line, expected) in cases {
            let yaml = "repository: /m\nmodels:\n  - name: digits\n    \(line)\n"
            let found = problems(yaml)
            #expect(found.contains { $0.hasPrefix("\(file):4:") && $0.contains(expected) }, "\(line): \(found)")
        }
        let memory = problems("repository: /m\nworkers:\n  - { name: w1, address: 'h:1', memoryMB: 17592186044416 }\n")
        #expect(memory.contains { $0.contains("workers[0].memoryMB: must be ≤ 16777216") }, "\(memory)")
        let port = problems("repository: /m\nworkers:\n  - { name: w1, address: 'h:99999999999999999999' }\n")
        #expect(port.contains { $0.contains("workers[0].address: expected HOST:PORT") }, "\(port)")
    }

    @Test func nonUTF8AndHugeFilesAreRefused() {
        var bytes = Data("repository: /m\nmodels:\n  - name: di".utf8)
        bytes.append(contentsOf: [0xFF, 0xFE])
        bytes.append(contentsOf: Data("gits\n".utf8))
        #expect(problems(bytes) == ["\(file):3:13: the file is not valid UTF-8 (first bad byte here); save it as UTF-8"])
        let huge = Data(repeating: UInt8(ascii: " "), count: (1 << 20) + 1)
        #expect(problems(huge).first?.contains("may be at most 1048576 bytes") == true)
    }

    /// The fuzz target's seeds and saved reproducers, through the same entry (`parse(contents:file:)`); the
    /// example desired state among them must parse.
    @Test func committedFuzzInputsReplay() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var parsed: [String] = []
        for kind in ["Corpus", "Regressions"] {
            let folder = root.appendingPathComponent("Fuzz/\(kind)/FuzzDesiredState")
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
                let bytes = try Data(contentsOf: folder.appendingPathComponent(name))
                if (try? DesiredStateParser.parse(contents: bytes, file: file)) != nil { parsed.append(name) }
            }
        }
        #expect(parsed.contains("configs-desired-state.yaml") && parsed.contains("whole-schema.yaml"), "\(parsed)")
    }

    /// The exact figures the limits allow still parse.
    @Test func boundsThemselvesAreAccepted() throws {
        let yaml = """
            repository: /m
            workers:
              - { name: w1, address: 127.0.0.1:8701, memoryMB: 16777216 }
            models:
              - name: digits
                replicas: 1000
                versions: { latest: 1_000 }
                hedging: { minDelayMs: 0, maxDelayMs: 86400000, timeoutMs: 86400000 }
                batching: { maxBatchSize: 1000000, maxDelayMicros: 60000000 }
            """
        let state = try DesiredStateParser.parse(contents: Data(yaml.utf8), file: file)
        #expect(state.models[0].replicas == 1000)
        #expect(state.workers[0].memoryMB == 1 << 24)
    }
}
