import Foundation
import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// The buffers a graph's runs reuse: what the pool keeps and hands out, that reuse never changes a value anyone
/// still holds, and that runs of a real model do reuse.
@Suite struct BufferPoolTests {
    @Test func aBufferIsHandedOutOnlyWhereItFitsWithoutWastingHalf() throws {
        let pool = BufferPool(floorBytes: 1 << 20)
        let given = [Float](repeating: 7, count: 2048)
        pool.give(given)
        #expect(pool.heldBytes == given.capacity * 4)
        #expect(pool.take(4096) == nil)  // too small
        #expect(pool.take(900) == nil)  // below the pool's minimum
        let taken = try #require(pool.take(1500))
        #expect(taken.count == 1500 && pool.heldBytes == 0)
        pool.give([Float](repeating: 1, count: 4096))
        #expect(pool.take(1500) == nil)  // fits, but would waste more than half of it
        let grown = try #require(pool.take(3000))
        #expect(grown.count == 3000)
        #expect(pool.requests.reused == 2 && pool.requests.allocated == 2, "\(pool.requests)")
    }

    @Test func thePoolKeepsWithinItsBounds() {
        let pool = BufferPool(floorBytes: 40 * 1024)
        pool.give([Float](repeating: 0, count: 100))  // small: not kept
        #expect(pool.heldBytes == 0)
        let bytes = [Float](repeating: 0, count: 1024).capacity * 4
        for _ in 0..<20 { pool.give([Float](repeating: 0, count: 1024)) }
        #expect(pool.heldBytes <= pool.limitBytes && pool.heldBytes + bytes > pool.limitBytes, "\(pool.heldBytes)")
        // Capacities of equal-count arrays differ by the allocator's rounding: the pool counts each one's own.
        let roomy = BufferPool(floorBytes: 1 << 30)
        let given = (0..<20).map { _ in [Float](repeating: 0, count: 1024) }
        for values in given { roomy.give(values) }
        #expect(roomy.heldBytes == given.prefix(BufferPool.perSizeClass).reduce(0) { $0 + $1.capacity * 4 })
    }

    @Test func thePoolGrowsToTwiceTheLargestRunItHasSeen() {
        let pool = BufferPool(floorBytes: 8192, capBytes: 1 << 20)
        #expect(pool.limitBytes == 8192)
        pool.observe(peakBytes: 100_000)
        #expect(pool.limitBytes == 200_000)
        pool.observe(peakBytes: 50_000)  // a smaller run does not shrink it
        #expect(pool.limitBytes == 200_000)
        pool.observe(peakBytes: 10_000_000)
        #expect(pool.limitBytes == 1 << 20, "never past the cap")
    }

    @Test func writingAPooledBufferSomeoneStillHoldsCopiesIt() throws {
        let pool = BufferPool(floorBytes: 1 << 20)
        let held = [Float](repeating: 3, count: 2048)
        pool.give(held)
        let reused = try pool.using { () throws(HedgerowError) in [Float].pooled(count: 2048) { $0.update(repeating: 9) } }
        #expect(reused.allSatisfy { $0 == 9 } && held.allSatisfy { $0 == 3 })
    }

    @Test func anOutputThatViewsAnIntermediateSurvivesTheNextRun() throws {
        // r = Relu(x) is read by a Reshape whose result is a graph output: r's buffer is the output's and is never
        // pooled. t = Sigmoid(x) is read by Neg only: its buffer is.
        let shape = Onnx_TensorProto.with { $0.name = "shape"; $0.dims = [2]; $0.dataType = 7; $0.int64Data = [64, 32] }
        let data = try ModelFixtures.model(
            nodes: [
                ModelFixtures.node("Relu", ["x"], ["r"], name: "relu"), ModelFixtures.node("Reshape", ["r", "shape"], ["y"], name: "view"),
                ModelFixtures.node("Sigmoid", ["x"], ["t"], name: "sigmoid"), ModelFixtures.node("Neg", ["t"], ["z"], name: "neg"),
            ],
            inputs: [ModelFixtures.valueInfo("x", [2048])], outputs: [ModelFixtures.valueInfo("y", [64, 32]), ModelFixtures.valueInfo("z", [2048])],
            initializers: [shape])
        let graph = try ModelLoader.load(data)
        #expect(graph.plan.recycled.count == 1)
        let first = try graph.run(["x": Tensor(shape: [2048], floats: (0..<2048).map { Float($0) - 1000 })])
        let firstValues = try first["y"].map { try $0.floats("y") } ?? []
        for round in 0..<3 {
            let other = try graph.run(["x": Tensor(shape: [2048], floats: [Float](repeating: Float(round) - 5, count: 2048))])
            #expect(try other["y"]?.floats("y").allSatisfy { $0 == max(0, Float(round) - 5) } == true)
        }
        #expect(try first["y"]?.floats("y") == firstValues)
        #expect(firstValues == (0..<2048).map { max(0, Float($0) - 1000) })
        #expect(graph.buffers.requests.reused > 0, "\(graph.buffers.requests)")
    }

    @Test func theEncodersRunsReuseTheirIntermediatesAndAnswerTheSame() throws {
        let data = try Data(contentsOf: ExampleModelsTests.models.appendingPathComponent("encoder/1/model.onnx"))
        let graph = try ModelLoader.load(data)
        let tokens = Tensor(shape: [4, 16, 64], floats: (0..<4096).map { Float($0 % 97) * 0.01 - 0.5 })
        let first = try graph.run(["tokens": tokens])
        let allocated = graph.buffers.requests.allocated
        for _ in 0..<3 { #expect(try graph.run(["tokens": tokens]) == first) }
        // After the first run every intermediate buffer comes from the pool: a run allocates its output alone.
        #expect(graph.buffers.requests.allocated == allocated + 3, "\(graph.buffers.requests)")
        #expect(graph.buffers.requests.reused > 0 && graph.buffers.heldBytes > 0)
        #expect(try ModelLoader.load(data).run(["tokens": tokens]) == first)
    }
}
