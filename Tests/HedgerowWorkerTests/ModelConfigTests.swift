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
}
