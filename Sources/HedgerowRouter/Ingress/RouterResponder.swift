import Foundation
import HedgerowCore
import HedgerowGRPC
import HedgerowHTTP
import HedgerowMetrics
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix

/// The client-facing endpoint. Resolves the model (and version or label) through the routing table, orders the
/// replicas by power of two choices (ejected replicas left out), and forwards the body as bytes (it never parses
/// tensors) with the version pinned in the path, hedging and retrying through `HedgedCall`. Inference requests
/// past the model's in-flight bound are refused with 503 at once.
final class RouterResponder: HTTPResponder {
    let configuration: RouterConfiguration
    let store: RoutingTableStore
    let pool: UpstreamPool
    let traffic = ModelTrafficRegistry()
    let random = BalancingRandom()
    let containment: QueryOfDeathGuard
    let upstreams: HedgedCall.Dependencies
    let inferenceLog: InferenceLogWriter
    let canaryMirror: CanaryMirror
    /// Where mirrored answers are compared; shut down with the router (`RouterService`).
    let comparisonThread: NIOThreadPool

    init(
        configuration: RouterConfiguration, store: RoutingTableStore, transport: any UpstreamTransport, pool: UpstreamPool,
        routerId: String = RouterResponder.newRequestId(), logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.pool = pool
        self.containment = QueryOfDeathGuard(settings: configuration.quarantine)
        self.upstreams = HedgedCall.Dependencies(transport: transport, pool: pool, containment: containment, logger: logger)
        self.inferenceLog = InferenceLogWriter(settings: configuration.inferenceLog, logger: logger)
        // Comparisons get a thread of their own, at the lowest priority: never one an event loop or another pool needs.
        let comparisonThread = NIOThreadPool(numberOfThreads: 1)
        comparisonThread.start()
        self.comparisonThread = comparisonThread
        self.canaryMirror = CanaryMirror(scoreboard: CanaryScoreboard(routerId: routerId), transport: transport, threads: comparisonThread, logger: logger)
    }

    func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        let loop = context.eventLoop
        if request.headers.isGRPC { return grpc(request, context: context) }
        if request.path == "/metrics" { return loop.makeSucceededFuture(MetricsEndpoint.response()) }
        if request.path == "/v1/routes" { return loop.makeSucceededFuture(.json(store.current)) }
        if request.path == "/v1/canary" {
            guard request.method == .GET else {
                return loop.makeSucceededFuture(.error(HedgerowError(.methodNotAllowed, "\(request.method) is not allowed on \(request.path)")))
            }
            return loop.makeSucceededFuture(.json(CanaryReport(router: canaryMirror.scoreboard.routerId, canaries: canaryMirror.scoreboard.snapshot().entries)))
        }
        if request.path == "/dashboard" || request.path == "/dashboard/data" {
            guard request.method == .GET else {
                return loop.makeSucceededFuture(.error(HedgerowError(.methodNotAllowed, "\(request.method) is not allowed on \(request.path)")))
            }
            if request.path == "/dashboard" { return loop.makeSucceededFuture(DashboardPage.response()) }
            let data = DashboardData(table: store.current, traffic: traffic, pool: pool, now: loop.now.uptimeNanoseconds)
            return loop.makeSucceededFuture(.json(data))
        }
        let route: InferenceRoute
        do {
            guard let parsed = try InferenceRoute.parse(request.target) else {
                return loop.makeSucceededFuture(.error(HedgerowError(.notFound, "no such endpoint: \(request.method) \(request.path)")))
            }
            route = parsed
        } catch {
            return loop.makeSucceededFuture(.error(error))
        }
        switch route {
        case .v2Server:
            return loop.makeSucceededFuture(.jsonBytes(.init(string: #"{"name":"hedgerow-router","version":"\#(HedgerowVersion.current)","extensions":["binary_tensor_data"]}"#)))
        case .v2Live:
            return loop.makeSucceededFuture(.jsonBytes(.init(string: #"{"live":true}"#)))
        case .v2ServerReady:
            let ready = store.current.generation > 0
            return loop.makeSucceededFuture(ready ? .jsonBytes(.init(string: #"{"ready":true}"#)) : .error(HedgerowError(.unavailable, "router has no routing table yet")))
        case .model(let model, let selector, let action):
            if route.isInference != (request.method == .POST) {
                return loop.makeSucceededFuture(.error(HedgerowError(.methodNotAllowed, "\(request.method) is not allowed on \(request.path)")))
            }
            return forward(request, route: route, model: model, selector: selector, action: action, context: context)
        }
    }

    /// `grpcMessage`: the request is a gRPC call and this its message; the version is pinned in the message
    /// (`GRPCModelFields.pinnedFrame`) instead of the path, and its deadline comes from `grpc-timeout`.
    func forward(
        _ request: HTTPRequest, route: InferenceRoute, model: ModelName, selector: VersionSelector,
        action: InferenceRoute.Action, context: RequestContext, grpcMessage: ByteBuffer? = nil
    ) -> EventLoopFuture<HTTPResponse> {
        let started = NIODeadline.now()
        let table = store.current
        var resolved: (version: ModelVersion, replicas: [String])
        // The request id, taken or made once: the canary split and the inference log sample by it.
        var requestId: String?
        func id() -> String {
            if let requestId { return requestId }
            let made = request.headers.first(name: "x-request-id").map { String($0.prefix(256)) } ?? Self.newRequestId()
            requestId = made
            return made
        }
        do {
            resolved = try table.resolve(model: model, selector: selector)
        } catch {
            // A name the routing table does not know is the client's to choose: counted under one label, so that
            // requests for made-up models cannot grow the metrics without bound.
            // A known model's failed resolutions (no such version or label) count in its dashboard history too.
            if table.models[model.rawValue] == nil {
                record("(unknown)", status: error.httpStatus, since: started)
            } else {
                record(model.rawValue, status: error.httpStatus, since: started, traffic: route.isInference ? traffic.traffic(for: model.rawValue) : nil)
            }
            return context.eventLoop.makeSucceededFuture(.error(error))
        }
        // The canary (as this router applies it: stopped if its own comparisons crossed a threshold) answers its
        // split share of requests that name no version, and is sent a mirror of its mirror share of the rest.
        var mirrorTo: (canary: CanaryPolicy, version: ModelVersion, replicas: [String])?
        if selector == .latest, route.isInference, let listed = table.models[model.rawValue]?.canary, listed.version != resolved.version.number,
           let candidate = try? ModelVersion(listed.version) {
            let canary = canaryMirror.scoreboard.effective(listed, model: model.rawValue)
            let candidates = table.models[model.rawValue]?.replicas(of: candidate) ?? []
            if !candidates.isEmpty {
                // Mirrors are compared as JSON answers: gRPC calls and binary tensor data are split, never mirrored.
                let comparable = grpcMessage == nil && request.headers.first(name: "inference-header-content-length") == nil
                if canary.takes(requestId: id()) {
                    resolved = (candidate, candidates)
                } else if comparable, canary.mirrors(requestId: id()) {
                    mirrorTo = (canary, candidate, candidates)
                }
            }
            canarySplits[ModelVersionKey(model: model.rawValue, version: resolved.version.number)].increment()
        }
        let (version, replicas) = resolved
        if action == .v2Ready {
            return context.eventLoop.makeSucceededFuture(.jsonBytes(.init(string: #"{"ready":true}"#)))
        }
        var upstream = request
        if let grpcMessage {
            upstream.body = GRPCModelFields.pinnedFrame(grpcMessage, to: version.description)
        } else {
            upstream.target = route.path(pinnedTo: version)
        }
        upstream.headers.remove(name: "connection")
        upstream.headers.remove(name: "host")
        let modelName = model.rawValue
        let traffic = self.traffic.traffic(for: modelName)
        let now = started.uptimeNanoseconds
        var fingerprint: RequestFingerprint?
        if route.isInference {
            let id = RequestFingerprint(model: modelName, target: upstream.target, body: request.body)
            if let refusal = containment.refusal(for: id, now: now) {
                traffic.metrics.quarantinedRefusals.increment()
                record(modelName, status: refusal.httpStatus, since: started, traffic: traffic)
                return context.eventLoop.makeSucceededFuture(.error(refusal))
            }
            fingerprint = id
            guard traffic.admit(limit: configuration.maxInFlightPerModel) else {
                traffic.metrics.shed.increment()
                record(modelName, status: 503, since: started, traffic: traffic)
                return context.eventLoop.makeSucceededFuture(.error(HedgerowError(.unavailable,
                    "model '\(modelName)' has \(configuration.maxInFlightPerModel) requests in flight on this router, its limit; retry shortly")))
            }
        }
        let routes = table.models[modelName]
        let policy = routes?.hedging ?? .default
        if route.isInference { traffic.deposit(percent: policy.budgetPercent, now: now) }
        var timeoutMs = policy.timeoutMs ?? configuration.defaultTimeoutMs
        if let given = request.headers.first(name: "hedgerow-timeout-ms").flatMap({ Int($0) }), given > 0 { timeoutMs = given }
        if grpcMessage != nil, let given = GRPCTimeout.milliseconds(request.headers.first(name: "grpc-timeout")) { timeoutMs = given }
        var hedgeDelay: TimeAmount?
        if route.isInference && policy.isEnabled {
            hedgeDelay = traffic.hedgeDelay(version, policy: policy, now: now)
        }
        let zones = routes?.zones ?? [:]
        // A replica's failure domain: its worker's zone, else its host.
        let domain: @Sendable (String) -> String = { address in zones[address] ?? (try? HostAndPort.parse(address).host) ?? address }
        let (candidates, ejected) = pool.candidates(replicas, domain: domain, now: now, random: random.callAsFunction)
        traffic.metrics.ejectedReplicas.record(ejected)
        let isInference = route.isInference
        let call = HedgedCall(
            context: .init(
                request: upstream,
                candidates: candidates,
                hedgeDelay: hedgeDelay,
                maxAttempts: policy.maxAttempts,
                deadline: .milliseconds(Int64(timeoutMs)),
                budgetPercent: policy.budgetPercent,
                recordSuccess: { [loop = context.eventLoop] nanos in
                    if isInference { traffic.record(version, nanos: nanos, now: loop.now.uptimeNanoseconds) }
                },
                fingerprint: fingerprint
            ),
            traffic: traffic, eventLoop: context.eventLoop, dependencies: upstreams
        )
        // The mirror's request, sent once stable has answered (see below).
        let shadow: (request: HTTPRequest, canary: CanaryPolicy, replicas: [String])? = mirrorTo.map { mirrorTo in
            var shadow = upstream
            shadow.target = route.path(pinnedTo: mirrorTo.version)
            return (shadow, mirrorTo.canary, mirrorTo.replicas)
        }
        let answer = call.run(cancellation: context.cancellation)
        guard route.isInference else { return answer }
        // Sampled inference log: decided here; the record is encoded and written by the log's own thread.
        let logged: (policy: InferenceLogPolicy, requestId: String)? = routes?.logging.flatMap { policy in
            guard policy.samplePercent > 0, InferenceLogSampler.isSampled(requestId: id(), percent: policy.samplePercent) else { return nil }
            return (policy, id())
        }
        let arrived = logged == nil && shadow == nil ? nil : Date()
        let mirroredId = shadow == nil ? nil : id()
        answer.whenComplete { [self, loop = context.eventLoop] result in
            let ended = NIODeadline.now()
            // The future does not fail (failures are answers), but a slot must never leak if it did.
            let status = (try? result.get()).map(\.outcomeStatus) ?? 500
            traffic.release(status: status, nanos: (ended - started).nanoseconds, now: ended.uptimeNanoseconds)
            if case .success = result { requestDurations[ModelStatus(model: modelName, status: status)].recordNanoseconds((ended - started).nanoseconds) }
            guard let arrived, case .success(let response) = result else { return }
            let record = InferenceLogRecord(
                time: arrived, requestId: logged?.requestId ?? mirroredId ?? "", model: modelName, version: version.number,
                api: grpcMessage != nil ? "grpc" : action == .tfPredict ? "tfs" : "v2", status: status, latencyMs: Double((ended - started).nanoseconds) / 1e6,
                hedged: response.headers.first(name: "hedgerow-attempts") != nil, replica: response.headers.first(name: "hedgerow-replica"),
                request: .init(request.body, contentType: request.headers.first(name: "content-type")),
                response: .init(response.body, contentType: response.headers.first(name: "content-type")),
                sampled: logged != nil
            )
            guard let shadow, (200..<300).contains(response.status.code) else {
                if let logged { inferenceLog.enqueue(record, path: logged.policy.directory, model: modelName) }
                return
            }
            // The mirror goes out once the client has stable's answer: it never competes with the request it copies
            // (a request stable failed is not mirrored: there would be nothing to compare). This callback runs
            // before the server writes the answer, so the mirror waits for the event loop's next turn.
            loop.execute { [self] in
                let (order, _) = pool.candidates(shadow.replicas, domain: domain, now: NIODeadline.now().uptimeNanoseconds, random: random.callAsFunction)
                guard let mirror = canaryMirror.start(shadow.request, replicas: order, model: modelName, canary: shadow.canary, traffic: traffic,
                                                      limit: configuration.maxInFlightPerModel, on: loop) else {
                    if let logged { inferenceLog.enqueue(record, path: logged.policy.directory, model: modelName) }
                    return
                }
                // A mirrored request is logged once the comparison is in: when sampled, or whenever the candidate
                // disagreed (rate-capped), to the model's log (or the default path when it has none).
                canaryMirror.finish(mirror, stable: response, traffic: traffic, on: loop).whenSuccess { [self] judgement in
                    let disagreed = judgement.isDisagreement && canaryMirror.mayLogDisagreement(model: modelName, now: NIODeadline.now().uptimeNanoseconds)
                    guard logged != nil || disagreed else { return }
                    var record = record
                    record.canary = .init(judgement, candidate: shadow.canary.version)
                    inferenceLog.enqueue(record, path: logged?.policy.directory ?? routes?.logging?.directory ?? "logs", model: modelName)
                }
            }
        }
        return answer
    }

    /// 128 random bits in hex, for a request that came without `x-request-id`.
    static func newRequestId() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() as UInt64, radix: 16) + String(generator.next() as UInt64, radix: 16)
    }

    /// Records a request answered without going upstream; `traffic` when it was an inference request of a known
    /// model (it then counts in the dashboard's history too).
    private func record(_ model: String, status: Int, since started: NIODeadline, traffic: ModelTraffic? = nil) {
        let ended = NIODeadline.now()
        requestDurations[ModelStatus(model: model, status: status)].recordNanoseconds((ended - started).nanoseconds)
        traffic?.recordRefused(status: status, nanos: (ended - started).nanoseconds, now: ended.uptimeNanoseconds)
    }

    private struct ModelStatus: Hashable {
        var model: String
        var status: Int
    }

    private struct ModelVersionKey: Hashable {
        var model: String
        var version: Int
    }

    /// Requests that named no version of a model with a canary, by the version that answered them.
    private let canarySplits = MetricHandles<ModelVersionKey, Counter> {
        Counter(label: MetricNames.routerCanarySplitRequests, dimensions: [("model", $0.model), ("version", String($0.version))])
    }

    /// Model names are bounded by the routing table (unknown ones are counted as "(unknown)"), statuses by HTTP.
    private let requestDurations = MetricHandles<ModelStatus, Timer> {
        Timer(label: MetricNames.routerRequestDuration, dimensions: [("model", $0.model), ("code", String($0.status))])
    }
}
