/// One problem in a desired-state file, located by line and column and by field path, e.g.
/// `Configs/desired-state.yaml:12:15: models[0].replicas: must be ≥ 1, got 0`.
public struct DesiredStateProblem: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var path: String
    public var message: String

    public var description: String { "\(file):\(line):\(column): \(path.isEmpty ? "" : "\(path): ")\(message)" }
}

/// A refused desired-state file: every problem found, not only the first.
public struct DesiredStateError: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [DesiredStateProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
