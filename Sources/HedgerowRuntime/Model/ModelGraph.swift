import HedgerowCore

/// A loaded, checked ONNX graph, ready to run many times concurrently.
///
/// Invariants established at load: `nodes` is in topological order; every node input is a graph input, an
/// initializer or an earlier node's output; every op has a kernel. Initializers are held once here and shared by
/// every run (never copied per request). `lastUse[i]` lists the values that node `i` is the last reader of, so a
/// run can release intermediates as soon as possible. Every tensor a run holds has a valid shape
/// (`TensorLimits`): initializers are checked at load, feeds on entry, and each kernel's results as they come.
public struct ModelGraph: Sendable {
    public let inputs: [TensorSignature]
    public let outputs: [TensorSignature]
    let nodes: [Node]
    let kernels: [Kernel]
    let initializers: [String: Tensor]
    let lastUse: [[String]]
    public let opsetVersion: Int
    /// What the optimisation passes changed at load, one line per kind of change ("conv-batchnorm-folding: 6
    /// BatchNormalization nodes folded into the Conv before them"); the worker logs them when a version loads.
    public internal(set) var optimizations: [String] = []

    /// Bytes held by initializers: what a loaded version costs in memory, to a first approximation.
    public var weightBytes: Int {
        initializers.values.reduce(0) { $0 + $1.bytes }
    }

    /// Runs the graph on named inputs and returns every graph output by name.
    public func run(_ feeds: [String: Tensor]) throws(HedgerowError) -> [String: Tensor] {
        var values = initializers
        for signature in inputs {
            guard let tensor = feeds[signature.name] else {
                throw HedgerowError(.badRequest, "missing input '\(signature.name)' (expected shape \(signature.metadataShapeText))")
            }
            try signature.check(tensor)
            // A request's tensor is outside data: its shape must be one the kernels may compute with.
            _ = try TensorLimits.count(tensor.shape, what: "input '\(signature.name)'")
            values[signature.name] = tensor
        }
        for name in feeds.keys where !inputs.contains(where: { $0.name == name }) {
            throw HedgerowError(.badRequest, "unknown input '\(name)'; the model takes \(inputs.map { "'\($0.name)'" }.joined(separator: ", "))")
        }
        for (index, node) in nodes.enumerated() {
            let args = node.inputs.map { $0.isEmpty ? nil : values[$0] }
            let results = try kernels[index](node, args)
            for (name, tensor) in zip(node.outputs, results) where !name.isEmpty {
                // Kernels check what they allocate; this keeps the valid-shape invariant for the next node (O(rank)).
                try TensorLimits.check(tensor, node: node)
                values[name] = tensor
            }
            for name in lastUse[index] { values[name] = nil }
        }
        var result: [String: Tensor] = [:]
        for output in outputs {
            guard let tensor = values[output.name] else {
                throw HedgerowError(.internalError, "graph output '\(output.name)' was not produced")
            }
            result[output.name] = tensor
        }
        return result
    }
}
