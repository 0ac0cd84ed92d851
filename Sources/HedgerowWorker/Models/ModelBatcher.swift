import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import HedgerowRuntime
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Dynamic batching for one loaded model version: concurrent requests wait in a `BatchQueue`, run together on an
/// inference thread, and each gets its own rows back.
///
/// The decisions (when to run, what joins a batch, who was cancelled) are the queue's; this type carries them out:
/// runs go to the inference pool, flush timers to the event loop of the request that asked for one. A request whose
/// client reset the stream while it waited is answered without running. If a merged run fails (say one request
/// holds an id outside an embedding table), every request of the batch runs alone, so each gets its own answer.
final class ModelBatcher: Sendable {
    /// One decoded request waiting for its outputs. `complete` is called exactly once, on an inference thread.
    struct Request: Sendable {
        let feeds: [String: Tensor]
        let cancellation: CancellationSignal
        let complete: @Sendable (Result<[String: Tensor], HedgerowError>) -> Void
        /// Called when the graph run that answers it starts (admission control stops counting its wait).
        var onRun: (@Sendable () -> Void)? = nil
    }

    let id: ModelVersionID
    let graph: ModelGraph
    private let canBatch: Bool
    private let queue: NIOLockedValueBox<BatchQueue<Request>>
    private let pool: NIOThreadPool
    private let batchSize: Recorder
    private let queueDepth: Gauge
    private let inferenceDuration: Metrics.Timer
    private let cancelled: Counter
    private let counts = NIOLockedValueBox((runs: 0, requests: 0))

    init(id: ModelVersionID, graph: ModelGraph, policy: BatchingPolicy, pool: NIOThreadPool) {
        self.id = id
        self.graph = graph
        self.canBatch = BatchAssembly.canBatch(graph)
        self.queue = NIOLockedValueBox(BatchQueue(policy: policy))
        self.pool = pool
        let model = [("model", id.model.rawValue)]
        self.batchSize = Recorder(label: MetricNames.workerBatchSize, dimensions: model, aggregate: true)
        self.queueDepth = Gauge(label: MetricNames.workerQueueDepth, dimensions: model)
        self.inferenceDuration = Metrics.Timer(label: MetricNames.workerInferenceDuration, dimensions: model + [("version", id.version.description)])
        self.cancelled = Counter(label: MetricNames.workerCancelled, dimensions: model)
    }

    /// The policy in force; a changed one applies from the next decision on.
    var policy: BatchingPolicy {
        get { queue.withLockedValue { $0.policy } }
        set { queue.withLockedValue { $0.policy = newValue } }
    }

    /// Graph runs so far and the requests they answered: their ratio is the mean batch size.
    var runCounts: (runs: Int, requests: Int) { counts.withLockedValue { $0 } }

    /// Whether requests are merged at all: the graph must take a dynamic first dimension on every input.
    var isBatching: Bool { canBatch && policy.maxBatchSize > 1 }

    /// Queues a request, or runs it at once on the calling thread when it cannot join a batch. Call from an
    /// inference thread (a request that runs at once runs there); `eventLoop` carries the flush timer, if one is set.
    func submit(_ request: Request, eventLoop: any EventLoop) {
        guard isBatching, let (rows, key) = BatchAssembly.shape(of: request.feeds) else {
            run([request])
            return
        }
        let (action, depth) = queue.withLockedValue { queue in
            (queue.enqueue(request, rows: rows, key: key, now: .now), queue.depth)
        }
        queueDepth.record(depth)
        perform(action, eventLoop: eventLoop)
    }

    /// Runs one request now on the calling thread, outside the batch queue (a canary's shadow on its own thread).
    func runAlone(_ request: Request) {
        run([request])
    }

    private func perform(_ action: BatchQueue<Request>.Action, eventLoop: any EventLoop) {
        switch action {
        case .none:
            break
        case .run:
            pool.submit { [self] state in
                let (batch, depth) = queue.withLockedValue { queue in
                    (queue.takeBatch(now: .now, isCancelled: { $0.cancellation.isCancelled }), queue.depth)
                }
                queueDepth.record(depth)
                for request in batch.dropped {
                    cancelled.increment()
                    request.complete(.failure(HedgerowError(.unavailable, "request cancelled by the client")))
                }
                guard case .active = state else {
                    let rest = queue.withLockedValue { $0.removeAll() }
                    for request in batch.items + rest {
                        request.complete(.failure(HedgerowError(.unavailable, "worker is shutting down")))
                    }
                    return
                }
                // Hand on the rest first, so another thread can take the next batch while this one runs.
                perform(batch.next, eventLoop: eventLoop)
                if !batch.items.isEmpty { run(batch.items) }
            }
        case .setTimer(let deadline):
            let wait = deadline - ContinuousClock.now
            eventLoop.scheduleTask(in: .nanoseconds(max(0, wait.nanoseconds))) { [self] in
                let next = queue.withLockedValue { $0.timerFired(now: .now) }
                perform(next, eventLoop: eventLoop)
            }
        }
    }

    private func run(_ requests: [Request]) {
        let started = ContinuousClock.now
        defer { inferenceDuration.recordNanoseconds((ContinuousClock.now - started).nanoseconds) }
        for request in requests { request.onRun?() }
        let rows = requests.map { $0.feeds.values.first?.shape.first ?? 1 }
        batchSize.record(rows.reduce(0, +))
        if requests.count > 1 {
            let merged = BatchAssembly.merge(requests.map(\.feeds))
            if let outputs = try? graph.run(merged), let parts = BatchAssembly.split(outputs, rows: rows) {
                counts.withLockedValue { $0.runs += 1; $0.requests += requests.count }
                for (request, outputs) in zip(requests, parts) { request.complete(.success(outputs)) }
                return
            }
        }
        counts.withLockedValue { $0.runs += requests.count; $0.requests += requests.count }
        for request in requests {
            do throws(HedgerowError) {
                request.complete(.success(try graph.run(request.feeds)))
            } catch {
                request.complete(.failure(error))
            }
        }
    }
}
