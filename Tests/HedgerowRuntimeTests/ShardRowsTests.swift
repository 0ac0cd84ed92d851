import Foundation
import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// Tables found and checked in a model, and a shard's rows read from it (external data or inline): reassembled,
/// the shards give back the whole table, for both schemes and shard counts 1, 2, 3 and 7.
@Suite struct ShardRowsTests {
    typealias F = ModelFixtures
    static let rows = 23, width = 3

    /// w[r][c] = r * 10 + c, so any row can be checked against the formula.
    static func value(_ row: Int, _ column: Int) -> Float { Float(row * 10 + column) }

    /// A ranker-like graph: `user_emb` gathered by ids, added to `bias`; `user_emb` external or inline.
    private func model(external: Bool, extra: [Onnx_NodeProto] = []) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hedgerow-shards-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let values = (0..<Self.rows).flatMap { r in (0..<Self.width).map { Self.value(r, $0) } }
        var table = F.floatTensor("user_emb", [Int64(Self.rows), Int64(Self.width)], external ? [] : values)
        if external {
            var bytes = Data(repeating: 0, count: 16)
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            try bytes.write(to: URL(fileURLWithPath: "\(directory)/model.data"))
            table.dataLocation = .external
            table.externalData = [("location", "model.data"), ("offset", "16")].map { key, value in
                var entry = Onnx_StringStringEntryProto()
                entry.key = key
                entry.value = value
                return entry
            }
        }
        let bias = F.floatTensor("bias", [Int64(Self.width)], [0.5, 0.5, 0.5])
        let nodes = [F.node("Gather", ["user_emb", "ids"], ["rows"]), F.node("Add", ["rows", "bias"], ["y"])] + extra
        let data = try F.model(nodes: nodes, inputs: [F.valueInfo("ids", [nil], type: 7)], outputs: [F.valueInfo("y", [nil, 3])], initializers: [table, bias])
        try data.write(to: URL(fileURLWithPath: "\(directory)/model.onnx"))
        return directory
    }

    @Test(arguments: [true, false])
    func shardsReassembleIntoTheTable(external: Bool) throws {
        let directory = try model(external: external)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/model.onnx"
        #expect(try EmbeddingTables.select(modelFile: path, names: ["user_emb"], minBytes: nil)
                == [EmbeddingTable(name: "user_emb", rows: Self.rows, rowShape: [Self.width], bytes: Self.rows * Self.width * 4)])
        for scheme in ShardLayout.Scheme.allCases {
            for shards in [1, 2, 3, 7] {
                let layout = try ShardLayout(rows: Self.rows, shards: shards, scheme: scheme)
                for shard in 0..<shards {
                    let part = try ShardRows.read(modelFile: path, table: "user_emb", layout: layout, shard: shard)
                    #expect(part.shape == [layout.count(of: shard), Self.width])
                    let floats = try part.floats("part")
                    for local in 0..<layout.count(of: shard) {
                        let row = layout.globalRow(shard: shard, local: local)
                        #expect(Array(floats[local * Self.width..<(local + 1) * Self.width]) == (0..<Self.width).map { Self.value(row, $0) },
                                "\(scheme) \(shards) shard \(shard) local \(local)")
                    }
                }
            }
        }
    }

    /// A mod shard's rows are streamed in chunks: chunks of one row, and of rows in counts that do not line up with
    /// the shard count, still yield every row of the shard once, in order.
    @Test func tablesOfManyChunksStreamEveryRow() throws {
        let directory = try model(external: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for chunkBytes in [1, 12, 50, 100] {
            for shards in [2, 3, 7] {
                let layout = try ShardLayout(rows: Self.rows, shards: shards, scheme: .mod)
                for shard in 0..<shards {
                    let part = try ShardRows.read(modelFile: "\(directory)/model.onnx", table: "user_emb", layout: layout, shard: shard, chunkBytes: chunkBytes)
                    let expected = (0..<layout.count(of: shard)).flatMap { local in (0..<Self.width).map { Self.value(layout.globalRow(shard: shard, local: local), $0) } }
                    #expect(try part.floats("part") == expected, "chunk \(chunkBytes) bytes, shard \(shard) of \(shards)")
                }
            }
        }
    }

    @Test func tablesThatAreNotOnlyLookedUpAreRefused() throws {
        let tied = try model(external: false, extra: [F.node("MatMul", ["y", "user_emb"], ["z"])])
        defer { try? FileManager.default.removeItem(atPath: tied) }
        #expect(throws: HedgerowError.self) { try EmbeddingTables.select(modelFile: "\(tied)/model.onnx", names: ["user_emb"], minBytes: nil) }
        do {
            _ = try EmbeddingTables.select(modelFile: "\(tied)/model.onnx", names: ["user_emb"], minBytes: nil)
        } catch {
            #expect(error.message.contains("table 'user_emb' cannot be sharded: MatMul node") && error.message.contains("tied weights"), "\(error)")
        }
        let plain = try model(external: false)
        defer { try? FileManager.default.removeItem(atPath: plain) }
        do {
            _ = try EmbeddingTables.select(modelFile: "\(plain)/model.onnx", names: ["item_emb"], minBytes: nil)
            Issue.record("a table that is not an initializer was accepted")
        } catch {
            #expect(error.message.contains("sharded table 'item_emb' is not an initializer"), "\(error)")
        }
        do {
            _ = try EmbeddingTables.select(modelFile: "\(plain)/model.onnx", names: ["bias"], minBytes: nil)
            Issue.record("a table no Gather reads was accepted")
        } catch {
            #expect(error.message.contains("'bias' cannot be sharded: Add node"), "\(error)")
        }
        // minBytes picks the qualifying table and skips the bias, which only Add reads.
        #expect(try EmbeddingTables.select(modelFile: "\(plain)/model.onnx", names: nil, minBytes: 12).map(\.name) == ["user_emb"])
    }
}
