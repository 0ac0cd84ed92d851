import Foundation
import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// A sharded model's entry: the graph without its tables, the Gathers' outputs supplied from PS parts read from
/// the same file. Run end to end (parts loaded by `ShardRows.part`, every message through its wire form), the
/// split model answers bit for bit what the unsplit one does.
@Suite struct EntryGraphTests {
    typealias F = ModelFixtures
    static let users = 29, items = 17, width = 3

    static func value(_ table: Int, _ row: Int, _ column: Int) -> Float { Float(sin(Double(table * 1000 + row * 7 + column))) * Float(row + 1) }

    /// user_emb[user] * item_emb[item], summed by a MatMul: two tables, a dense part after them.
    private func model(idsFromGraph: Bool = false) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hedgerow-entry-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func table(_ name: String, _ index: Int, rows: Int) -> Onnx_TensorProto {
            F.floatTensor(name, [Int64(rows), Int64(Self.width)], (0..<rows).flatMap { r in (0..<Self.width).map { Self.value(index, r, $0) } })
        }
        var nodes = [
            F.node("Gather", ["user_emb", idsFromGraph ? "shifted" : "user"], ["u"], name: "user_lookup"),
            F.node("Gather", ["item_emb", "item"], ["v"]),
            F.node("Mul", ["u", "v"], ["uv"]),
            F.node("MatMul", ["uv", "ones"], ["score"]),
        ]
        if idsFromGraph { nodes.insert(F.node("Abs", ["user"], ["shifted"]), at: 0) }
        let data = try F.model(
            nodes: nodes, inputs: [F.valueInfo("user", [nil], type: 7), F.valueInfo("item", [nil], type: 7)],
            outputs: [F.valueInfo("score", [nil, 1]), F.valueInfo("u", [nil, Int64(Self.width)])],
            initializers: [table("user_emb", 0, rows: Self.users), table("item_emb", 1, rows: Self.items),
                           F.floatTensor("ones", [Int64(Self.width), 1], [1, 1, 1])]
        )
        try data.write(to: URL(fileURLWithPath: "\(directory)/model.onnx"))
        return "\(directory)/model.onnx"
    }

    /// The entry's run: lookups planned per shard, answered by the parts through the wire format, then the graph.
    private func split(_ feeds: [String: Tensor], entry: EntryGraph, parts: [ShardPart]) throws -> [String: Tensor] {
        var supplied = feeds
        for lookup in entry.lookups {
            let ids = try #require(feeds[lookup.indices])
            let asked = try lookup.gather.lookups(ids)
            var answers: [Int: [Float]] = [:]
            for (shard, rows) in asked {
                let request = LookupMessages.Request(digest: parts[shard].digest, tables: [.init(table: lookup.gather.table, rows: rows)])
                let answer = try parts[shard].answer(try LookupMessages.decodeRequest(LookupMessages.encode(request)))
                answers[shard] = try LookupMessages.decodeResponse(LookupMessages.encode(answer), expected: [(rows.count, lookup.gather.width)])[0].values
            }
            supplied[lookup.output] = try lookup.gather.output(ids, lookups: asked, answers: answers)
        }
        return try entry.graph.run(supplied)
    }

    @Test(arguments: ShardLayout.Scheme.allCases)
    func splitModelAnswersAsTheUnsplitOne(scheme: ShardLayout.Scheme) throws {
        let path = try model()
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
        let whole = try ModelLoader.load(contentsOf: path)
        var generator = SystemRandomNumberGenerator()
        let batches: [([Int64], [Int64])] = [
            ([], []), ([0], [Int64(Self.items - 1)]), ([-1, Int64(Self.users - 1)], [-Int64(Self.items), 3]), ([4, 4, 4], [2, 2, 9]),
            ((0..<40).map { _ in Int64.random(in: -Int64(Self.users)..<Int64(Self.users), using: &generator) },
             (0..<40).map { _ in Int64.random(in: 0..<Int64(Self.items), using: &generator) }),
        ]
        for shards in [1, 2, 3, 7] {
            let entry = try EntryGraph.load(modelFile: path, tables: ["user_emb", "item_emb"], shards: shards, scheme: scheme)
            #expect(entry.graph.inputs.map(\.name) == ["user", "item"], "clients see the model's own inputs")
            #expect(Set(entry.graph.suppliedInputs.map(\.name)) == ["u", "v"])
            #expect(entry.graph.weightBytes == Self.width * 4, "the entry holds the dense weights only")
            let parts = try (0..<shards).map { shard in
                try ShardRows.part(modelFile: path, digest: "ranker/1", tables: ["user_emb", "item_emb"], shards: shards, scheme: scheme, shard: shard)
            }
            #expect(parts.reduce(0) { $0 + $1.bytes } == (Self.users + Self.items) * Self.width * 4, "every row is held exactly once")
            for (users, items) in batches {
                let feeds = ["user": Tensor(shape: [users.count], int64s: users), "item": Tensor(shape: [items.count], int64s: items)]
                let expected = try whole.run(feeds)
                let got = try split(feeds, entry: entry, parts: parts)
                for name in ["score", "u"] {
                    #expect(got[name]?.shape == expected[name]?.shape)
                    #expect(try got[name]?.floats(name).map(\.bitPattern) == expected[name]?.floats(name).map(\.bitPattern), "\(scheme) \(shards) \(name) \(users)")
                }
            }
        }
    }

    @Test func idsComputedInsideTheGraphAreRefusedNamingTheNode() throws {
        let path = try model(idsFromGraph: true)
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
        let error = #expect(throws: HedgerowError.self) {
            try EntryGraph.load(modelFile: path, tables: ["user_emb"], shards: 2, scheme: .mod)
        }
        #expect(error?.message.contains("Gather node 'user_lookup' reads table 'user_emb' with ids computed inside the graph") == true)
    }

    @Test func aTableThatIsNotAnInitializerIsRefused() throws {
        let path = try model()
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
        let error = #expect(throws: HedgerowError.self) {
            try EntryGraph.load(modelFile: path, tables: ["user"], shards: 2, scheme: .mod)
        }
        #expect(error?.message.contains("sharded table 'user' is not an initializer") == true)
    }
}
