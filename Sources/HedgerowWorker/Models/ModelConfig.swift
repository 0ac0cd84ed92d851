import Foundation
import HedgerowCore
import Yams

/// A version's `config.yaml`, written by the model's author next to `model.onnx`:
///
/// ```yaml
/// batching:
///   maxBatchSize: 16      # rows run together at most
///   maxDelayMicros: 1000  # longest a request waits for others
/// ```
/// The file is optional; a key it does not know is an error (a misspelt setting must not be silently ignored).
/// A `batching` set in the desired state wins over this file: the platform team has the last word.
struct ModelConfig: Equatable {
    var batching: BatchingPolicy?

    /// Reads the file if it exists; errors name the file and the key.
    static func load(contentsOf path: String) throws(HedgerowError) -> ModelConfig {
        guard FileManager.default.fileExists(atPath: path) else { return ModelConfig() }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw HedgerowError(.loadFailed, "\(path): cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    static func parse(_ text: String, file: String) throws(HedgerowError) -> ModelConfig {
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch {
            throw HedgerowError(.loadFailed, "\(file): not valid YAML: \(error)")
        }
        guard let root else { return ModelConfig() }
        guard let map = root as? [String: Any] else {
            throw HedgerowError(.loadFailed, "\(file): expected a mapping at the top level")
        }
        for key in map.keys where key != "batching" {
            throw HedgerowError(.loadFailed, "\(file): unknown key '\(key)' (known: batching)")
        }
        guard let node = map["batching"] else { return ModelConfig() }
        guard let batching = node as? [String: Any] else {
            throw HedgerowError(.loadFailed, "\(file): batching must be a mapping with maxBatchSize and maxDelayMicros")
        }
        for key in batching.keys where key != "maxBatchSize" && key != "maxDelayMicros" {
            throw HedgerowError(.loadFailed, "\(file): unknown key 'batching.\(key)' (known: maxBatchSize, maxDelayMicros)")
        }
        func integer(_ key: String, default value: Int) throws(HedgerowError) -> Int {
            guard let raw = batching[key] else { return value }
            guard let number = raw as? Int else {
                throw HedgerowError(.loadFailed, "\(file): batching.\(key) must be an integer, got '\(raw)'")
            }
            return number
        }
        let base = BatchingPolicy.default
        let size = try integer("maxBatchSize", default: base.maxBatchSize)
        let delay = try integer("maxDelayMicros", default: base.maxDelayMicros)
        do {
            return ModelConfig(batching: try BatchingPolicy(maxBatchSize: size, maxDelayMicros: delay))
        } catch {
            throw HedgerowError(.loadFailed, "\(file): \(error.message)")
        }
    }
}
