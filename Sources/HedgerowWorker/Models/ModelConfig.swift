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
/// It holds numbers only: no key names a path, so the file cannot make the worker read anything else.
/// A `batching` set in the desired state wins over this file: the platform team has the last word.
struct ModelConfig: Equatable {
    var batching: BatchingPolicy?

    /// Reads the version's `config.yaml` if it has one, after vetting the version directory: this is the first
    /// thing a load reads from it, so the whole directory is checked here before any byte of it is read. A version
    /// directory, `model.onnx` or `config.yaml` that resolves outside the repository or its version directory, or
    /// a model that is not a regular file, fails the load (`ModelRepository.verifiedModelFile`). The file has no
    /// path fields, so nothing inside it can point elsewhere.
    static func load(for id: ModelVersionID, in repository: ModelRepository) throws(HedgerowError) -> ModelConfig {
        _ = try repository.verifiedModelFile(id)
        guard let path = try repository.verifiedConfigFile(id) else { return ModelConfig() }
        return try read(path, shownAs: repository.configFile(id))
    }

    /// Reads `path`, which the worker builds with `ModelRepository.configFile(_:)`: the version it belongs to is
    /// vetted as in `load(for:in:)`. A path of any other shape is read only if it is not a link out of its
    /// directory.
    static func load(contentsOf path: String) throws(HedgerowError) -> ModelConfig {
        if let (repository, id) = ModelRepository.locate(configFile: path) {
            return try load(for: id, in: repository)
        }
        guard FileManager.default.fileExists(atPath: path) else { return ModelConfig() }
        let directory = (path as NSString).deletingLastPathComponent
        guard let real = ModelRepository.realPath(path), let realDirectory = ModelRepository.realPath(directory.isEmpty ? "." : directory),
              ModelRepository.isInside(real, realDirectory) else {
            throw HedgerowError(.loadFailed, "refusing \(path): it is a link that resolves outside its directory")
        }
        return try read(real, shownAs: path)
    }

    /// A settings file holds a handful of numbers; anything bigger is a mistake or an attack on the load thread.
    static let maxBytes = 64 * 1024

    private static func read(_ path: String, shownAs name: String) throws(HedgerowError) -> ModelConfig {
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > maxBytes {
            throw HedgerowError(.loadFailed, "\(name): \(size) bytes is too big for a settings file (at most \(maxBytes))")
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw HedgerowError(.loadFailed, "\(name): cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: name)
    }

    /// Parses a config.yaml's text. Checked first like the desired state (size, UTF-8, nesting, no aliases: Yams
    /// recurses per level and expands aliases), then read as a node tree whose integers are read as decimal here
    /// (Yams' own integer resolution traps on an overflowing sexagesimal like `1:00:00:00:00:00:00:00:00:00:00:00`).
    static func parse(_ text: String, file: String) throws(HedgerowError) -> ModelConfig {
        if let refusal = YAMLPrecheck.check(Data(text.utf8)) {
            throw HedgerowError(.loadFailed, "\(file):\(refusal.line):\(refusal.column): \(refusal.message)")
        }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw HedgerowError(.loadFailed, "\(file): not valid YAML: \(error)")
        }
        guard let root else { return ModelConfig() }
        guard case .mapping(let map) = root else {
            throw HedgerowError(.loadFailed, "\(file): expected a mapping at the top level")
        }
        var batchingNode: Node?
        for (key, value) in map {
            guard key.string == "batching" else {
                throw HedgerowError(.loadFailed, "\(file): unknown key '\(key.string ?? "?")' (known: batching)")
            }
            batchingNode = value
        }
        guard let batchingNode else { return ModelConfig() }
        guard case .mapping(let batching) = batchingNode else {
            throw HedgerowError(.loadFailed, "\(file): batching must be a mapping with maxBatchSize and maxDelayMicros")
        }
        let base = BatchingPolicy.default
        var size = base.maxBatchSize, delay = base.maxDelayMicros
        for (key, value) in batching {
            let name = key.string ?? "?"
            guard name == "maxBatchSize" || name == "maxDelayMicros" else {
                throw HedgerowError(.loadFailed, "\(file): unknown key 'batching.\(name)' (known: maxBatchSize, maxDelayMicros)")
            }
            guard case .scalar(let scalar) = value, let number = YAMLPrecheck.decimalInteger(scalar.string) else {
                throw HedgerowError(.loadFailed, "\(file): batching.\(name) must be an integer, got '\(value.string ?? "a collection")'")
            }
            if name == "maxBatchSize" { size = number } else { delay = number }
        }
        do {
            return ModelConfig(batching: try BatchingPolicy(maxBatchSize: size, maxDelayMicros: delay))
        } catch {
            throw HedgerowError(.loadFailed, "\(file): \(error.message)")
        }
    }
}
