import Foundation
import HedgerowCore
import HedgerowHTTP
import Yams

/// Reads `desired-state.yaml` into a checked `DesiredState`. The whole file is refused if anything is wrong,
/// and every problem is reported with file:line:column and the field's path. Unknown keys are errors, so a typo
/// (`replica: 3`) is never silently ignored.
public struct DesiredStateParser {
    let file: String
    private var problems: [DesiredStateProblem] = []

    public init(file: String) {
        self.file = file
    }

    /// Parses the bytes of `file` as read from disk: at most `YAMLPrecheck.maxBytes`, valid UTF-8, nested no deeper
    /// than `YAMLPrecheck.maxNesting`, no aliases; then as `parse(_:file:)`.
    public static func parse(contents: Data, file: String) throws(DesiredStateError) -> DesiredState {
        if let refusal = YAMLPrecheck.check(contents) {
            throw DesiredStateError(problems: [DesiredStateProblem(file: file, line: refusal.line, column: refusal.column, path: "", message: refusal.message)])
        }
        return try parse(String(decoding: contents, as: UTF8.self), file: file)
    }

    /// Parses `text` (the contents of `file`). Relative repository paths are taken from the file's directory.
    public static func parse(_ text: String, file: String) throws(DesiredStateError) -> DesiredState {
        // Yams recurses once per nesting level and expands aliases: the same checks as for bytes from disk.
        if let refusal = YAMLPrecheck.check(Data(text.utf8)) {
            throw DesiredStateError(problems: [DesiredStateProblem(file: file, line: refusal.line, column: refusal.column, path: "", message: refusal.message)])
        }
        var parser = DesiredStateParser(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw DesiredStateError(problems: [parser.syntaxProblem(error)])
        } catch {
            throw DesiredStateError(problems: [DesiredStateProblem(file: file, line: 1, column: 1, path: "", message: "\(error)")])
        }
        guard let root else {
            throw DesiredStateError(problems: [DesiredStateProblem(file: file, line: 1, column: 1, path: "", message: "the file is empty")])
        }
        let state = parser.document(root)
        guard parser.problems.isEmpty, let state else { throw DesiredStateError(problems: parser.problems) }
        return state
    }

    private func syntaxProblem(_ error: YamlError) -> DesiredStateProblem {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
            return DesiredStateProblem(file: file, line: mark.line, column: mark.column, path: "", message: "YAML syntax error: \(problem)")
        default:
            return DesiredStateProblem(file: file, line: 1, column: 1, path: "", message: "YAML error: \(error)")
        }
    }

    mutating func problem(_ node: Node?, _ path: String, _ message: String) {
        problems.append(DesiredStateProblem(file: file, line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1, path: path, message: message))
    }

    // MARK: Document

    private mutating func document(_ root: Node) -> DesiredState? {
        guard let map = mapping(root, "", allowed: ["repository", "defaults", "workers", "models"]) else { return nil }
        let repositoryText = string(map["repository"], "repository", required: true) ?? ""
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        let repository = repositoryText.hasPrefix("/") ? repositoryText : base.appendingPathComponent(repositoryText).standardizedFileURL.path

        var defaults = ModelDefaults()
        if let node = map["defaults"], let d = mapping(node, "defaults", allowed: ["replicas", "hedging", "batching", "logging"]) {
            defaults.replicas = int(d["replicas"], "defaults.replicas", in: DesiredState.Limits.replicas) ?? defaults.replicas
            if let h = d["hedging"] { defaults.hedging = hedging(h, "defaults.hedging", base: defaults.hedging) ?? defaults.hedging }
            if let b = d["batching"] { defaults.batching = batching(b, "defaults.batching", base: .default) }
            if let l = d["logging"] { defaults.logging = logging(l, "defaults.logging", base: nil) }
        }

        var workers: [DesiredState.StaticWorker] = []
        if let node = map["workers"], let list = sequence(node, "workers") {
            var names = Set<String>()
            for (i, entry) in list.enumerated() {
                let path = "workers[\(i)]"
                guard let w = mapping(entry, path, allowed: ["name", "address", "zone", "memoryMB"]) else { continue }
                guard let name = string(w["name"], "\(path).name", required: true),
                      let address = string(w["address"], "\(path).address", required: true) else { continue }
                if !names.insert(name).inserted { problem(w["name"], "\(path).name", "duplicate worker name '\(name)'") }
                if ((try? HostAndPort.parse(address))?.port ?? 0) == 0 { problem(w["address"], "\(path).address", "expected HOST:PORT, got '\(address)'") }
                let zone = string(w["zone"], "\(path).zone") ?? "default"
                let memory = int(w["memoryMB"], "\(path).memoryMB", in: DesiredState.Limits.memoryMB) ?? 2048
                workers.append(.init(name: name, address: address, zone: zone, memoryMB: memory))
            }
        }

        var models: [DesiredState.ModelSpec] = []
        if let node = map["models"], let list = sequence(node, "models") {
            var names = Set<String>()
            var positions: [Int] = []
            for (i, entry) in list.enumerated() {
                if let spec = model(entry, "models[\(i)]", defaults: defaults, workers: workers) {
                    if !names.insert(spec.name.rawValue).inserted {
                        problem(entry, "models[\(i)].name", "model '\(spec.name)' is listed twice")
                    }
                    models.append(spec)
                    positions.append(i)
                }
            }
            // A sharded model's PS parts are placed under their own names: no listed model may take one.
            var partOwners: [String: ModelName] = [:]
            for spec in models {
                for shard in 0..<(spec.sharding?.shards ?? 0) { partOwners[ShardingPolicy.partName(spec.name, shard: shard)] = spec.name }
            }
            for (i, spec) in zip(positions, models) {
                if let owner = partOwners[spec.name.rawValue] {
                    problem(list[i], "models[\(i)].name", "'\(spec.name)' is the name of a shard of sharded model '\(owner)'; rename one of them")
                }
            }
        }
        return DesiredState(repository: repository, workers: workers, models: models)
    }

    struct ModelDefaults {
        var replicas = 2
        var hedging = HedgingPolicy.default
        /// Nil unless the file sets it: models without a batching of their own then follow their config.yaml.
        var batching: BatchingPolicy?
        var logging: InferenceLogPolicy?
    }
}
