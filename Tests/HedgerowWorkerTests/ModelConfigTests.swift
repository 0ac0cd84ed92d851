import HedgerowCore
@testable import HedgerowWorker
import Testing

@Suite struct ModelConfigTests {
    @Test func batchingIsRead() throws {
        let config = try ModelConfig.parse("batching:\n  maxBatchSize: 16\n  maxDelayMicros: 1000\n", file: "digits/1/config.yaml")
        #expect(config.batching == (try BatchingPolicy(maxBatchSize: 16, maxDelayMicros: 1000)))
    }

    @Test func aMissingNumberTakesTheDefault() throws {
        let config = try ModelConfig.parse("batching: { maxBatchSize: 4 }", file: "f")
        #expect(config.batching?.maxDelayMicros == BatchingPolicy.default.maxDelayMicros)
        #expect(try ModelConfig.parse("", file: "f") == ModelConfig())
    }

    @Test(arguments: [
        ("batchng: { maxBatchSize: 4 }", "unknown key 'batchng'"),
        ("batching: { maxBatchSize: 4, maxDelay: 3 }", "unknown key 'batching.maxDelay'"),
        ("batching: { maxBatchSize: 0 }", "maxBatchSize must be ≥ 1"),
        ("batching: { maxBatchSize: many }", "batching.maxBatchSize must be an integer"),
        ("batching: 4", "batching must be a mapping"),
        ("[1, 2]", "expected a mapping"),
    ])
    func mistakesNameTheFileAndTheKey(text: String, message: String) {
        #expect {
            _ = try ModelConfig.parse(text, file: "digits/1/config.yaml")
        } throws: { error in
            let text = (error as? HedgerowError)?.message ?? ""
            return text.hasPrefix("digits/1/config.yaml: ") && text.contains(message)
        }
    }

    /// config.yaml is outside input: what killed a worker at load (found by the desired-state fuzzer in the same
    /// Yams paths) is a load error naming the file.
    @Test func hostileConfigFilesFailTheLoadInsteadOfCrashingIt() throws {
        let cases: [(String, String)] = [
            ("batching:\n  maxBatchSize: 1:00:00:00:00:00:00:00:00:00:00:00\n", "must be an integer"),
            ("x: 1:00:00:00:00:00:00:00:00:00:00:00\n", "unknown key 'x'"),
            ("a: &a [1, 2]\nbatching: *a\n", "alias"),
            (String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), "nest"),
            ("batching:\n  maxBatchSize: 99999999999999999999999\n", "must be an integer"),
            ("batching:\n  maxBatchSize: 0x10\n", "must be an integer"),
        ]
        for (text, expected) in cases {
            do {
                _ = try ModelConfig.parse(text, file: "m/1/config.yaml")
                Issue.record("accepted: \(text.prefix(60))")
            } catch {
                #expect(error.message.hasPrefix("m/1/config.yaml") && error.message.contains(expected), "\(error.message)")
            }
        }
        #expect(try ModelConfig.parse("batching:\n  maxBatchSize: 1_6\n  maxDelayMicros: +200\n", file: "c").batching?.maxBatchSize == 16)
    }
}
