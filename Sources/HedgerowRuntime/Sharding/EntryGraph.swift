import Foundation
import HedgerowCore

/// The entry part of a sharded model: the model's graph with its sharded tables left out of memory, each Gather
/// that read one replaced by a value the server supplies (`ModelGraph.suppliedInputs`) from the shards' rows.
///
/// Why a supplied input and not a remote operator: the lookups are network calls, and the graph runs on an
/// inference thread that must never wait on the network. The worker reads the ids from the request, fetches every
/// shard's rows concurrently on its event loops, puts each Gather's output together (`ShardedGather`, bit for bit
/// what the unsplit Gather computes), and only then queues the run.
///
/// So the ids a sharded Gather reads must be a graph input (what a ranker's request carries): ids computed inside
/// the graph are refused at load, naming the node. Nothing else about the graph changes.
public struct EntryGraph: Sendable {
    /// One sharded Gather: which request input holds its ids, and which supplied input its rows become.
    public struct Lookup: Sendable {
        public let gather: ShardedGather
        public let indices: String
        public let output: String
    }

    public let graph: ModelGraph
    public let lookups: [Lookup]
    /// The split tables, as the file declares them.
    public let tables: [EmbeddingTable]

    public static func load(modelFile path: String, tables names: [String], shards: Int, scheme: ShardLayout.Scheme) throws(HedgerowError) -> EntryGraph {
        var model = try ModelLoader.proto(contentsOf: path)
        let tables = try EmbeddingTables.select(model.graph, names: names, minBytes: nil, source: path)
        let byName = Dictionary(tables.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let inputs = Dictionary(model.graph.input.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let constants = Set(model.graph.initializer.map(\.name))
        var lookups: [Lookup] = []
        var supplied: [Onnx_ValueInfoProto] = []
        var kept: [Onnx_NodeProto] = []
        for node in model.graph.node {
            guard node.opType == "Gather", let tableName = node.input.first, let table = byName[tableName] else {
                kept.append(node)
                continue
            }
            let label = node.name.isEmpty ? "Gather→\(node.output.first ?? "?")" : node.name
            guard node.input.count == 2, node.output.count == 1, let ids = inputs[node.input[1]], !constants.contains(node.input[1]) else {
                throw HedgerowError(.loadFailed, "\(path): Gather node '\(label)' reads table '\(tableName)' with ids computed inside the graph; a sharded table's ids must be a graph input")
            }
            let layout = try ShardLayout(rows: table.rows, shards: shards, scheme: scheme)
            lookups.append(Lookup(gather: ShardedGather(table: tableName, node: label, layout: layout, rowShape: table.rowShape),
                                  indices: ids.name, output: node.output[0]))
            var rows = Onnx_ValueInfoProto()
            rows.name = node.output[0]
            var type = Onnx_TypeProto.Tensor()
            type.elemType = 1
            type.shape.dim = ids.type.tensorType.shape.dim + table.rowShape.map { size in
                var dimension = Onnx_TensorShapeProto.Dimension()
                dimension.dimValue = Int64(size)
                return dimension
            }
            rows.type.tensorType = type
            supplied.append(rows)
        }
        model.graph.node = kept
        model.graph.initializer.removeAll { byName[$0.name] != nil }
        model.graph.input.removeAll { byName[$0.name] != nil }
        model.graph.input += supplied
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let graph = try ModelLoader.load(model, source: path, directory: directory).supplying(supplied.map(\.name))
        return EntryGraph(graph: graph, lookups: lookups, tables: tables)
    }
}
