import Foundation
import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// A Gather split over shards gives bit-identical outputs to the unsplit model's Gather, through the whole lookup
/// protocol (request and answer encoded and decoded, each part answering from its own rows only), and refuses
/// what the unsplit model refuses with the same message.
@Suite struct ShardedGatherTests {
    typealias F = ModelFixtures
    static let rows = 41, width = 4

    /// Irregular values, so that a row from the wrong place cannot pass: w[r][c] = sin(r·7 + c)·(r + 1).
    static let table: [Float] = {
        var values: [Float] = []
        for r in 0..<rows {
            for c in 0..<width {
                let angle = Double(r * 7 + c)
                values.append(Float(sin(angle)) * Float(r + 1))
            }
        }
        return values
    }()

    static let graph: ModelGraph = {
        let data = try! F.model(nodes: [F.node("Gather", ["emb", "ids"], ["y"])], inputs: [F.valueInfo("ids", [nil, nil], type: 7)],
                                outputs: [F.valueInfo("y", [nil, nil, Int64(width)])],
                                initializers: [F.floatTensor("emb", [Int64(rows), Int64(width)], table)])
        return try! ModelLoader.load(data, source: "ranker.onnx")
    }()

    private func parts(_ layout: ShardLayout, digest: String) -> [ShardPart] {
        (0..<layout.shards).map { shard in
            let rows = (0..<layout.count(of: shard)).flatMap { local -> ArraySlice<Float> in
                let row = layout.globalRow(shard: shard, local: local)
                return Self.table[row * Self.width..<(row + 1) * Self.width]
            }
            return ShardPart(digest: digest, shard: shard, tables: ["emb": .init(layout: layout, rows: rows, width: Self.width)])
        }
    }

    /// The split path end to end, with every message through its wire form.
    private func split(_ ids: Tensor, layout: ShardLayout) throws -> Tensor {
        let gather = ShardedGather(table: "emb", node: "Gather→y", layout: layout, rowShape: [Self.width])
        let parts = parts(layout, digest: "ranker/1/\(layout.scheme)/\(layout.shards)")
        let lookups = try gather.lookups(ids)
        var answers: [Int: [Float]] = [:]
        for (shard, rows) in lookups {
            let request = LookupMessages.Request(digest: parts[shard].digest, tables: [.init(table: "emb", rows: rows)])
            let received = try LookupMessages.decodeRequest(LookupMessages.encode(request))
            let answer = LookupMessages.encode(try parts[shard].answer(received))
            answers[shard] = try LookupMessages.decodeResponse(answer, expected: [(rows.count, Self.width)])[0].values
        }
        return try gather.output(ids, lookups: lookups, answers: answers)
    }

    @Test(arguments: ShardLayout.Scheme.allCases)
    func splitOutputsAreBitIdentical(scheme: ShardLayout.Scheme) throws {
        var generator = SystemRandomNumberGenerator()
        let batches: [[Int64]] = [
            [], [0], [Int64(Self.rows - 1)], [-1, -Int64(Self.rows)], [5, 5, 5, 0, 5],
            (0..<64).map { _ in Int64.random(in: -Int64(Self.rows)..<Int64(Self.rows), using: &generator) },
        ]
        for shards in [1, 2, 3, 7] {
            let layout = try ShardLayout(rows: Self.rows, shards: shards, scheme: scheme)
            for batch in batches {
                let ids = Tensor(shape: [batch.count == 0 ? 0 : 1, batch.count], int64s: batch)
                let expected = try #require(try Self.graph.run(["ids": ids])["y"])
                let got = try split(ids, layout: layout)
                #expect(got.shape == expected.shape)
                #expect(try got.floats("split").map(\.bitPattern) == expected.floats("unsplit").map(\.bitPattern), "\(scheme) \(shards) \(batch)")
            }
        }
    }

    @Test func outOfRangeIdsAreTheUnsplitModelsOwn400() throws {
        let layout = try ShardLayout(rows: Self.rows, shards: 3, scheme: .mod)
        for id in [Int64(Self.rows), -Int64(Self.rows) - 1, .max] {
            let ids = Tensor(shape: [1, 1], int64s: [id])
            var unsplit: HedgerowError?
            do { _ = try Self.graph.run(["ids": ids]) } catch { unsplit = error }
            let expected = try #require(unsplit)
            #expect(throws: expected) { try split(ids, layout: layout) }
        }
    }

    @Test func aPartRefusesOtherContentAndRowsItDoesNotHold() throws {
        let layout = try ShardLayout(rows: Self.rows, shards: 3, scheme: .mod)
        let part = parts(layout, digest: "ranker/2")[1]
        #expect(throws: HedgerowError(.conflict, "lookup for part 'ranker/1' reached shard 1 holding 'ranker/2'")) {
            try part.answer(.init(digest: "ranker/1", tables: [.init(table: "emb", rows: [1])]))
        }
        #expect(throws: HedgerowError(.badRequest, "table 'emb': row 3 is on shard 0, not on shard 1")) {
            try part.answer(.init(digest: "ranker/2", tables: [.init(table: "emb", rows: [3])]))
        }
        #expect(throws: HedgerowError(.badRequest, "table 'emb': row 41 is outside its 41 rows")) {
            try part.answer(.init(digest: "ranker/2", tables: [.init(table: "emb", rows: [41])]))
        }
        #expect(throws: HedgerowError.self) { try part.answer(.init(digest: "ranker/2", tables: [.init(table: "item_emb", rows: [1])])) }
    }

    @Test func hostileLookupMessagesAreRefused() throws {
        var lying = Data("HLQ1".utf8) + Data([1, 0x41]) + Data([1, 0]) + Data([3, 0]) + Data("emb".utf8)
        lying.append(contentsOf: [0xFF, 0xFF, 0xFF, 0xFF])  // 4 billion rows, none present
        let cases: [Data] = [Data(), Data("HLQ2".utf8), lying, LookupMessages.encode(.init(digest: "d", tables: [])) + Data([0])]
        for data in cases {
            #expect(throws: HedgerowError.self, "\(Array(data))") { try LookupMessages.decodeRequest(data) }
        }
        let answer = LookupMessages.encode([.init(width: 4, values: [1, 2, 3, 4])])
        #expect(throws: HedgerowError.self) { try LookupMessages.decodeResponse(answer, expected: [(2, 4)]) }
        #expect(throws: HedgerowError.self) { try LookupMessages.decodeResponse(answer.dropLast(), expected: [(1, 4)]) }
        #expect(try LookupMessages.decodeResponse(answer, expected: [(1, 4)]) == [.init(width: 4, values: [1, 2, 3, 4])])
    }
}
