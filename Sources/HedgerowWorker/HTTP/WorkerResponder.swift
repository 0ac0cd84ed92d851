import Foundation
import HedgerowCore
import HedgerowGRPC
import HedgerowHTTP
import HedgerowMetrics
import HedgerowRuntime
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix

/// Every HTTP endpoint of a worker: the client API (TF Serving REST, KServe v2), `/metrics`, and `/admin/*`.
///
/// Inference never runs on an event loop: decoding, the graph run and encoding happen on the inference thread
/// pool. A request whose client went away before its turn is dropped without running.
final class WorkerResponder: HTTPResponder {
    let configuration: WorkerConfiguration
    let models: ModelManager
    let inferencePool: NIOThreadPool
    let gate: QueueDelayGate
    /// Requests mirrored to a canary wait here, behind served ones, and run on `shadowPool`.
    let shadows: ShadowLane
    let shadowPool: NIOThreadPool

    /// `shadowPool`: one thread for mirrored requests, which each run on it at the lowest CPU priority, outside the
    /// batch queue (nil: the inference pool, at normal priority; for tests).
    init(configuration: WorkerConfiguration, models: ModelManager, inferencePool: NIOThreadPool, shadowPool: NIOThreadPool? = nil) {
        self.configuration = configuration
        self.models = models
        self.inferencePool = inferencePool
        self.shadowPool = shadowPool ?? inferencePool
        let gate = QueueDelayGate(targetNanoseconds: Int64(configuration.maxQueueDelayMs) * 1_000_000)
        self.gate = gate
        self.shadows = ShadowLane(maxRunning: 1, servedWaiting: { gate.waitingCount })
    }

    func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        let loop = context.eventLoop
        if request.path == "/metrics" {
            return loop.makeSucceededFuture(request.method == .GET ? MetricsEndpoint.response() : .error(methodNotAllowed(request)))
        }
        if request.path.hasPrefix("/admin/") {
            return loop.makeSucceededFuture(AdminRoutes(responder: self).respond(to: request))
        }
        if request.headers.isGRPC { return grpc(request, context: context) }
        if request.path.hasPrefix("/v1/parts/") { return lookup(request, context: context) }
        do {
            guard let route = try InferenceRoute.parse(request.target) else {
                return loop.makeSucceededFuture(.error(HedgerowError(.notFound, "no such endpoint: \(request.method) \(request.path)")))
            }
            if route.isInference {
                guard request.method == .POST else { return loop.makeSucceededFuture(.error(methodNotAllowed(request))) }
                guard case .model(let model, let selector, let action) = route else {
                    return loop.makeSucceededFuture(.error(HedgerowError(.notFound, "no such endpoint")))
                }
                let wire: InferenceWire
                if action == .tfPredict {
                    wire = .tfServing
                } else if let header = request.headers.first(name: "inference-header-content-length") {
                    guard let length = Int(header) else {
                        return loop.makeSucceededFuture(.error(HedgerowError(.badRequest, "Inference-Header-Content-Length '\(header.prefix(64))' is not a byte count")))
                    }
                    wire = .kserve(headerLength: length)
                } else {
                    wire = .kserve(headerLength: nil)
                }
                return infer(model, selector, wire: wire, body: request.body, headers: request.headers, context: context)
            }
            guard request.method == .GET else { return loop.makeSucceededFuture(.error(methodNotAllowed(request))) }
            return loop.makeSucceededFuture(StatusRoutes(models: models, workerName: configuration.name).respond(to: route))
        } catch {
            return loop.makeSucceededFuture(.error(error))
        }
    }

    /// Past capacity (see `QueueDelayGate`): a 503 with Retry-After, counted, so the router or client goes elsewhere.
    private func overloaded(_ model: ModelName) -> HedgerowError {
        Counter(label: MetricNames.workerShed, dimensions: [("model", model.rawValue)]).increment()
        return HedgerowError(.unavailable, "worker \(configuration.name) is overloaded: inference requests wait over \(configuration.maxQueueDelayMs) ms for a thread; retry shortly")
    }

    private struct ModelAttempt: Hashable {
        var model: String
        /// primary, backup (a router's hedge or retry) or shadow (mirrored to a canary).
        var kind: String
    }

    /// Handles per model served here (a bounded set: models are loaded by the synchronizer, not named by clients).
    private let requestCounters = MetricHandles<ModelAttempt, Counter> {
        Counter(label: MetricNames.workerRequests, dimensions: [("model", $0.model), ("attempt", $0.kind)])
    }

    func methodNotAllowed(_ request: HTTPRequest) -> HedgerowError {
        HedgerowError(.methodNotAllowed, "\(request.method) is not allowed on \(request.path)")
    }

    /// How an inference request's body is read and its answer written.
    enum InferenceWire: Sendable {
        /// TensorFlow Serving `:predict` JSON.
        case tfServing
        /// KServe v2 JSON; with the binary tensor extension when `headerLength` is given.
        case kserve(headerLength: Int?)
        /// A KServe v2 gRPC `ModelInferRequest` (the message, without its gRPC prefix).
        case grpc
    }

    /// Runs one inference request: admission, the inference pool, the batcher. Every outcome is an answer (errors
    /// as Hedgerow's JSON errors, which the gRPC path turns into statuses).
    func infer(_ model: ModelName, _ selector: VersionSelector, wire: InferenceWire, body: ByteBuffer, headers: HTTPHeaders, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        let lease: ModelManager.Lease
        do { lease = try models.acquire(model, selector) } catch {
            return context.eventLoop.makeSucceededFuture(.error(error))
        }
        let gate = self.gate
        let cancellation = context.cancellation
        let modelLabel = lease.id.model.rawValue
        let isBackup = (headers.first(name: "hedgerow-attempt").flatMap { Int($0) } ?? 1) > 1
        let isShadow = headers.first(name: "hedgerow-shadow") == "1"
        requestCounters[ModelAttempt(model: modelLabel, kind: isShadow ? "shadow" : isBackup ? "backup" : "primary")].increment()
        let pool = isShadow ? shadowPool : inferencePool
        let shadows = self.shadows
        let faultDelay: EventLoopFuture<Void>
        if configuration.faultDelayPercent > 0, Double.random(in: 0..<100) < configuration.faultDelayPercent {
            faultDelay = context.eventLoop.scheduleTask(in: .milliseconds(Int64(configuration.faultDelayMs))) {}.futureResult
        } else {
            faultDelay = context.eventLoop.makeSucceededVoidFuture()
        }
        let loop = context.eventLoop
        return faultDelay.flatMap {
            // Admission is judged once the request is really here (after an injected fault delay, which stands
            // for a replica slow before queueing, not for a queue). A shadow takes no ticket: it never makes a
            // served request look late, and it is refused whenever served requests would be.
            let ticket = isShadow ? nil : gate.admit()
            guard isShadow ? !gate.isPastTarget() : ticket != nil else {
                lease.release()
                return loop.makeSucceededFuture(.error(self.overloaded(model)))
            }
            /// A served request stopped waiting for a thread: a waiting shadow may go.
            let stoppedWaiting: @Sendable () -> Void = {
                if let ticket {
                    gate.stoppedWaiting(ticket)
                    shadows.pump()
                }
            }
            let answer = loop.makePromise(of: HTTPResponse.self)
            // Every way out of this request goes through here: the lease is released exactly once.
            let finish: @Sendable (HTTPResponse) -> Void = { response in
                stoppedWaiting()
                lease.release()
                if isShadow { shadows.finished() }
                answer.succeed(response)
            }
            let work: @Sendable () -> Void = {
                pool.submit { state in
                    if isShadow { BackgroundPriority.lowerCurrentThread() }
                    guard case .active = state else {
                        return finish(.error(HedgerowError(.unavailable, "worker is shutting down")))
                    }
                    if let ticket, !gate.mayProceed(ticket) {
                        return finish(.error(self.overloaded(model)))
                    }
                    if cancellation.isCancelled {
                        // The client reset the stream while this waited: spend nothing on it.
                        Counter(label: MetricNames.workerCancelled, dimensions: [("model", modelLabel)]).increment()
                        return finish(.error(HedgerowError(.unavailable, "request cancelled by the client")))
                    }
                    let graph = lease.graph
                    let data = Data(body.readableBytesView)
                    // Decode here, off the event loop; the batcher runs the graph; encode on the thread that ran it.
                    let encode: @Sendable ([String: Tensor]) -> HTTPResponse
                    let feeds: [String: Tensor]
                    do throws(HedgerowError) {
                        switch wire {
                        case .tfServing:
                            let (decoded, format) = try TFServingCodec.decode(data, graph: graph)
                            feeds = decoded
                            encode = { .jsonBytes(ByteBuffer(string: TFServingCodec.encode($0, graph: graph, format: format))) }
                        case .kserve(let headerLength):
                            let decoded = try KServeCodec.decode(data, graph: graph, headerLength: headerLength)
                            feeds = decoded.feeds
                            encode = { outputs in
                                let (body, headerLength) = KServeCodec.encode(outputs, request: decoded, model: lease.id, graph: graph)
                                guard let headerLength else { return .jsonBytes(ByteBuffer(bytes: body)) }
                                return HTTPResponse(status: .ok, headers: [
                                    "content-type": "application/octet-stream", "inference-header-content-length": String(headerLength),
                                ], body: ByteBuffer(bytes: body))
                            }
                        case .grpc:
                            let decoded = try GRPCInferCodec.decode(data, graph: graph)
                            feeds = decoded.feeds
                            encode = { .grpc(GRPCInferCodec.encode($0, request: decoded, model: lease.id, graph: graph)) }
                        }
                    } catch {
                        return finish(.error(error))
                    }
                    var request = ModelBatcher.Request(feeds: feeds, cancellation: cancellation) { result in
                        switch result {
                        case .success(let outputs): finish(encode(outputs))
                        case .failure(let error): finish(.error(error))
                        }
                    }
                    request.onRun = stoppedWaiting
                    guard let lookups = lease.lookups else {
                        // A shadow runs here, alone, on its low-priority thread: never in a batch with served
                        // requests, never on an inference thread.
                        if isShadow { lease.batcher.runAlone(request) } else { lease.batcher.submit(request, eventLoop: loop) }
                        return
                    }
                    // A sharded entry: the rows come first, from every shard at once; the request leaves the thread
                    // queue while they travel (its wait for the network is not queueing), and comes back to an
                    // inference thread to be put together and run. A router's backup does not hedge its lookups
                    // again: the router already doubled this request.
                    let plan: ShardLookups.Plan
                    do throws(HedgerowError) { plan = try lookups.plan(feeds) } catch { return finish(.error(error)) }
                    let complete = request.complete
                    stoppedWaiting()
                    // What is left of the client's deadline (the router sends it), which the lookups end with.
                    let deadlineMs = headers.first(name: "hedgerow-deadline-ms").flatMap { Int64($0) }.map { min(max($0, 1), Int64(DesiredState.Limits.milliseconds.upperBound)) }
                    let deadline = NIODeadline.now() + .milliseconds(deadlineMs ?? Self.defaultLookupDeadlineMs)
                    lookups.fetch(plan, deadline: deadline, mayHedge: !isBackup, on: loop).whenComplete { result in
                        let answers: [Int: [String: [Float]]]
                        switch result {
                        case .success(let values): answers = values
                        case .failure(let error as HedgerowError): return finish(.error(error))
                        case .failure(let error): return finish(.error(HedgerowError(.unavailable, "model '\(model)': a shard's answer could not be read: \(error)")))
                        }
                        pool.submit { state in
                            guard case .active = state else { return finish(.error(HedgerowError(.unavailable, "worker is shutting down"))) }
                            let whole: ModelBatcher.Request
                            do throws(HedgerowError) {
                                whole = ModelBatcher.Request(feeds: feeds.merging(try lookups.supplied(feeds, plan: plan, answers: answers)) { a, _ in a },
                                                             cancellation: cancellation, complete: complete)
                            } catch {
                                return finish(.error(error))
                            }
                            if isShadow { lease.batcher.runAlone(whole) } else { lease.batcher.submit(whole, eventLoop: loop) }
                        }
                    }
                }
            }
            guard isShadow else {
                work()
                return answer.futureResult
            }
            if !shadows.submit(work) {
                // Refused without running: answered here, through the same promise (a promise dropped unanswered
                // is a leak, and a debug build traps on it).
                lease.release()
                self.shadowsShed[modelLabel].increment()
                answer.succeed(.error(HedgerowError(.unavailable,
                    "worker \(self.configuration.name) has \(shadows.capacity) mirrored requests waiting behind served ones; this mirror is dropped")))
            }
            return answer.futureResult
        }
    }

    /// How long a sharded entry's lookups may take when no router said (`hedgerow-deadline-ms`).
    static let defaultLookupDeadlineMs: Int64 = 5000

    /// Mirrored requests refused because the shadow lane was full, per model.
    private let shadowsShed = MetricHandles<String, Counter> {
        Counter(label: MetricNames.workerShadowsShed, dimensions: [("model", $0)])
    }
}

extension Duration {
    /// Whole nanoseconds, for metrics.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
