import Foundation
import HedgerowCore

/// A parameter-server shard's rows of an embedding table, read from the model file.
///
/// A table in external data (what a model too big for one worker uses) is read by offset: a `range` shard's rows in
/// one read of its block, a `mod` shard's by streaming the table in chunks of about 4 MiB and keeping every
/// `shards`-th row, so no more than one chunk of other shards' rows is ever held. A table inside the .onnx file is
/// already in memory once the file is parsed; its rows are copied out. The result is a float32 tensor of the
/// shard's rows in local order (`ShardLayout.place`), shape `[count, rowShape...]`.
public enum ShardRows {
    /// `chunkBytes`: how much of a `mod` table is read at a time (tests make it small to cross many chunks).
    public static func read(modelFile path: String, table name: String, layout: ShardLayout, shard: Int, chunkBytes: Int = 4 << 20) throws(HedgerowError) -> Tensor {
        try read(ModelLoader.proto(contentsOf: path), path: path, table: name, layout: layout, shard: shard, chunkBytes: chunkBytes)
    }

    /// A PS part: its rows of every table, from one parse of the model file. Each table's layout comes from the
    /// table's own row count.
    public static func part(
        modelFile path: String, digest: String, tables: [String], shards: Int, scheme: ShardLayout.Scheme, shard: Int
    ) throws(HedgerowError) -> ShardPart {
        let model = try ModelLoader.proto(contentsOf: path)
        var held: [String: ShardPart.Table] = [:]
        for table in try EmbeddingTables.select(model.graph, names: tables, minBytes: nil, source: path) {
            let layout = try ShardLayout(rows: table.rows, shards: shards, scheme: scheme)
            let rows = try read(model, path: path, table: table.name, layout: layout, shard: shard)
            held[table.name] = .init(layout: layout, rows: try rows.floats("table '\(table.name)'"), width: table.rowElements)
        }
        return ShardPart(digest: digest, shard: shard, tables: held)
    }

    static func read(_ model: Onnx_ModelProto, path: String, table name: String, layout: ShardLayout, shard: Int, chunkBytes: Int = 4 << 20) throws(HedgerowError) -> Tensor {
        guard let proto = model.graph.initializer.first(where: { $0.name == name }) else {
            throw HedgerowError(.loadFailed, "\(path): table '\(name)' is not an initializer")
        }
        let table = try EmbeddingTables.select(model.graph, names: [name], minBytes: nil, source: path)[0]
        guard table.rows == layout.rows, (0..<layout.shards).contains(shard) else {
            throw HedgerowError(.loadFailed, "\(path): table '\(name)' has \(table.rows) rows; the layout asked for shard \(shard) of \(layout.shards) over \(layout.rows)")
        }
        let width = table.rowElements
        let count = layout.count(of: shard)
        var values = [Float]()
        values.reserveCapacity(count * width)
        if proto.dataLocation == .external {
            let what = "\(path): table '\(name)'"
            let location = try ExternalTensorData.locate(proto, directory: URL(fileURLWithPath: path).deletingLastPathComponent().path, what: what)
            let rowBytes = width * 4
            switch layout.scheme {
            case .range:
                let start = layout.globalRow(shard: shard, local: 0)
                let bytes = try ExternalTensorData.read(.init(path: location.path, offset: location.offset + start * rowBytes, length: count * rowBytes), what: what)
                append(bytes, to: &values)
            case .mod:
                let chunkRows = max(1, chunkBytes / max(1, rowBytes))
                var first = 0
                while first < table.rows {
                    let rows = min(chunkRows, table.rows - first)
                    let bytes = try ExternalTensorData.read(.init(path: location.path, offset: location.offset + first * rowBytes, length: rows * rowBytes), what: what)
                    var row = first + (shard - first % layout.shards + layout.shards) % layout.shards
                    while row < first + rows {
                        let start = bytes.startIndex + (row - first) * rowBytes
                        append(bytes[start..<start + rowBytes], to: &values)
                        row += layout.shards
                    }
                    first += rows
                }
            }
        } else {
            let whole = try TensorDecoding.decode(proto, what: "\(path): table '\(name)'").floats("table '\(name)'")
            for local in 0..<count {
                let row = layout.globalRow(shard: shard, local: local)
                values.append(contentsOf: whole[row * width..<(row + 1) * width])
            }
        }
        return Tensor(shape: [count] + table.rowShape, floats: values)
    }

    private static func append(_ bytes: Data, to values: inout [Float]) {
        bytes.withUnsafeBytes { raw in
            for i in 0..<raw.count / 4 {
                values.append(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))))
            }
        }
    }
}
