import Foundation
import HedgerowCore

/// An embedding table a model may serve split over parameter-server shards: a float32 initializer read only by
/// `Gather(axis=0)` as its data.
public struct EmbeddingTable: Sendable, Equatable {
    public var name: String
    /// Dimension 0: what ids index.
    public var rows: Int
    /// The other dimensions: one row's shape.
    public var rowShape: [Int]
    /// Bytes of the whole table (float32).
    public var bytes: Int

    public var rowElements: Int { rowShape.reduce(1, *) }
}

/// Finds and checks the tables a `sharding:` block names, in the model's ONNX file.
///
/// A table can be split only if nothing but row lookups reads it: every node that names it must be a
/// default-domain `Gather` taking it as data (input 0) along axis 0, and no graph output, subgraph or other input
/// slot may see it (tied weights, a MatMul with the same matrix, would need the whole table). Each refusal names
/// the table and what reads it. Shapes and sizes come from the file, so they are checked like any initializer's.
public enum EmbeddingTables {
    /// `names`: the tables listed; `minBytes`: every float32 initializer of at least that size that qualifies
    /// (listing one that does not is an error; a large initializer that does not qualify is skipped).
    public static func select(modelFile path: String, names: [String]?, minBytes: Int?) throws(HedgerowError) -> [EmbeddingTable] {
        let model = try ModelLoader.proto(contentsOf: path)
        return try select(model.graph, names: names, minBytes: minBytes, source: path)
    }

    static func select(_ graph: Onnx_GraphProto, names: [String]?, minBytes: Int?, source: String) throws(HedgerowError) -> [EmbeddingTable] {
        var initializers: [String: Onnx_TensorProto] = [:]
        for tensor in graph.initializer { initializers[tensor.name] = tensor }
        var tables: [EmbeddingTable] = []
        if let names {
            guard !names.isEmpty else { throw HedgerowError(.invalidConfiguration, "\(source): sharding lists no tables") }
            for name in names {
                guard let tensor = initializers[name] else {
                    throw HedgerowError(.invalidConfiguration, "\(source): sharded table '\(name)' is not an initializer of the graph (its initializers: \(initializers.keys.sorted().prefix(8).map { "'\($0)'" }.joined(separator: ", ")))")
                }
                if let problem = lookupOnlyProblem(name, in: graph) {
                    throw HedgerowError(.invalidConfiguration, "\(source): table '\(name)' cannot be sharded: \(problem)")
                }
                tables.append(try table(tensor, source: source))
            }
        }
        if let minBytes {
            for tensor in graph.initializer where tensor.dataType == 1 && !tables.contains(where: { $0.name == tensor.name }) {
                guard lookupOnlyProblem(tensor.name, in: graph) == nil, let candidate = try? table(tensor, source: source),
                      candidate.bytes >= minBytes else { continue }
                tables.append(candidate)
            }
        }
        return tables
    }

    private static func table(_ tensor: Onnx_TensorProto, source: String) throws(HedgerowError) -> EmbeddingTable {
        let what = "\(source): table '\(tensor.name)'"
        guard tensor.dataType == 1 else {
            throw HedgerowError(.invalidConfiguration, "\(what) is \(ElementType.onnxName(tensor.dataType)); sharded tables are float32")
        }
        let shape = tensor.dims.map { Int($0) }
        let count = try TensorLimits.count(shape, what: what, kind: .loadFailed)
        guard let rows = shape.first else { throw HedgerowError(.invalidConfiguration, "\(what) is a scalar; a table has rows") }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: 4)
        guard !overflow else { throw HedgerowError(.loadFailed, "\(what): shape \(shape) is larger than can be addressed") }
        return EmbeddingTable(name: tensor.name, rows: rows, rowShape: Array(shape.dropFirst()), bytes: bytes)
    }

    /// Why `name` is read by something other than a row lookup, or nil when only `Gather(axis=0)` reads it.
    static func lookupOnlyProblem(_ name: String, in graph: Onnx_GraphProto) -> String? {
        if graph.output.contains(where: { $0.name == name }) { return "it is a graph output" }
        var gathers = 0
        for node in graph.node {
            for (slot, input) in node.input.enumerated() where input == name {
                guard node.opType == "Gather", node.domain.isEmpty || node.domain == "ai.onnx", slot == 0 else {
                    return "\(node.opType) node '\(node.name.isEmpty ? node.output.first ?? "?" : node.name)' reads it as input \(slot) (tied weights need the whole table)"
                }
                let axis = node.attribute.first { $0.name == "axis" }?.i ?? 0
                let rank = Int64(graph.initializer.first { $0.name == name }?.dims.count ?? 0)
                guard axis == 0 || axis + rank == 0 else {
                    return "Gather node '\(node.name.isEmpty ? node.output.first ?? "?" : node.name)' reads it along axis \(axis), not rows (axis 0)"
                }
                gathers += 1
            }
            for attribute in node.attribute where attribute.hasG || !attribute.graphs.isEmpty {
                let subgraphs = (attribute.hasG ? [attribute.g] : []) + attribute.graphs
                if subgraphs.contains(where: { mentions(name, $0) }) {
                    return "the subgraph of \(node.opType) node '\(node.name)' reads it"
                }
            }
        }
        return gathers == 0 ? "no Gather reads it" : nil
    }

    private static func mentions(_ name: String, _ graph: Onnx_GraphProto) -> Bool {
        graph.node.contains { node in
            node.input.contains(name) || node.attribute.contains { ($0.hasG && mentions(name, $0.g)) || $0.graphs.contains { mentions(name, $0) } }
        }
    }
}
