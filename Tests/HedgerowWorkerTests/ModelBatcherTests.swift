import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowRuntime
@testable import HedgerowWorker
import NIOCore
import NIOPosix
import Testing

/// The batcher with real threads and the digits model: requests that arrive together run as one graph run and each
/// gets exactly what it would get alone; cancelled ones never run; a bad request does not fail its neighbours.
@Suite struct ModelBatcherTests {
    static let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Models")
    let graph = try! ModelLoader.load(contentsOf: models.appendingPathComponent("digits/1/model.onnx").path)
    let id = ModelVersionID(model: try! ModelName("digits"), version: try! ModelVersion(1))

    func image(_ seed: Int) -> [String: Tensor] {
        let input = graph.inputs[0]
        let dims = input.shape.dropFirst().map { $0 ?? 1 }
        return [input.name: Tensor(shape: [1] + dims, floats: (0..<dims.reduce(1, *)).map { Float(($0 * 5 + seed * 11) % 16) })]
    }

    /// Submits every request from its own pool task, waits for all answers (bounded), returns them in order.
    func submitAll(
        _ feeds: [[String: Tensor]], policy: BatchingPolicy, cancelled: Set<Int> = [], graph: ModelGraph? = nil
    ) async throws -> (results: [Result<[String: Tensor], HedgerowError>], counts: (runs: Int, requests: Int)) {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let batcher = ModelBatcher(id: id, graph: graph ?? self.graph, policy: policy, pool: pool)
        let loop = group.next()
        let promises = feeds.map { _ in loop.makePromise(of: Result<[String: Tensor], HedgerowError>.self) }
        for (i, feed) in feeds.enumerated() {
            let signal = CancellationSignal()
            if cancelled.contains(i) { signal.fire() }
            let request = ModelBatcher.Request(feeds: feed, cancellation: signal) { promises[i].succeed($0) }
            batcher.submit(request, eventLoop: loop)
        }
        let all = EventLoopFuture.whenAllSucceed(promises.map(\.futureResult), on: loop)
        let results = try await withThrowingTaskGroup(of: [Result<[String: Tensor], HedgerowError>]?.self) { tasks in
            tasks.addTask { try await all.get() }
            tasks.addTask { try await Task.sleep(for: .seconds(20)); return nil }
            defer { tasks.cancelAll() }
            return try await tasks.next()!
        }
        try await pool.shutdownGracefully()
        try await group.shutdownGracefully()
        return (try #require(results, "every request is answered within 20 s"), batcher.runCounts)
    }

    @Test func concurrentRequestsRunAsOneBatchAndGetTheirOwnRows() async throws {
        let feeds = (0..<8).map(image)
        let (results, counts) = try await submitAll(feeds, policy: try BatchingPolicy(maxBatchSize: 8, maxDelayMicros: 2_000_000))
        #expect(counts.runs == 1 && counts.requests == 8, "8 requests reaching maxBatchSize run once: \(counts)")
        for (feed, result) in zip(feeds, results) {
            let got = try result.get()
            for (name, alone) in try graph.run(feed) {
                for (a, b) in zip(try got[name]!.floats(name), try alone.floats(name)) { #expect(abs(a - b) <= 1e-5 * max(1, abs(b))) }
            }
        }
    }

    @Test func aLoneRequestRunsAfterTheDelay() async throws {
        let started = ContinuousClock.now
        let (results, counts) = try await submitAll([image(1)], policy: try BatchingPolicy(maxBatchSize: 32, maxDelayMicros: 20_000))
        #expect(ContinuousClock.now - started >= .milliseconds(20), "it waited for company")
        #expect(counts.runs == 1)
        _ = try results[0].get()
    }

    @Test func cancelledRequestsAreAnsweredWithoutRunning() async throws {
        let (results, counts) = try await submitAll((0..<4).map(image), policy: try BatchingPolicy(maxBatchSize: 4, maxDelayMicros: 2_000_000), cancelled: [1, 2])
        #expect(counts.requests == 2, "only the two live requests ran: \(counts)")
        for i in [1, 2] {
            #expect(throws: HedgerowError.self) { try results[i].get() }
        }
        _ = try results[0].get()
        _ = try results[3].get()
    }

    @Test func aBadRequestDoesNotFailItsNeighbours() async throws {
        let recommender = try ModelLoader.load(contentsOf: Self.models.appendingPathComponent("recommender/1/model.onnx").path)
        let feeds = [5, 7, 1_000_000_000, 9].map { id -> [String: Tensor] in
            ["user": Tensor(shape: [1], int64s: [Int64(id)]), "item": Tensor(shape: [1], int64s: [3])]
        }
        let (results, counts) = try await submitAll(feeds, policy: try BatchingPolicy(maxBatchSize: 4, maxDelayMicros: 2_000_000), graph: recommender)
        #expect(counts.requests == 4)
        for i in [0, 1, 3] {
            let alone = try recommender.run(feeds[i])["score"]!.floats("score")
            #expect(try results[i].get()["score"]!.floats("score") == alone)
        }
        #expect { try results[2].get() } throws: { ($0 as? HedgerowError)?.kind == .badRequest }
    }

    @Test func batchSizeOneRunsEachRequestAlone() async throws {
        let (_, counts) = try await submitAll((0..<4).map(image), policy: try BatchingPolicy(maxBatchSize: 1, maxDelayMicros: 2_000_000))
        #expect(counts.runs == 4 && counts.requests == 4)
    }
}
