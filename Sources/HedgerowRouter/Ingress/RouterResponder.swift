import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The client-facing endpoint. Resolves the model (and version or label) through the routing table, orders the
/// replicas by power of two choices (ejected replicas left out), and forwards the body as bytes (it never parses
/// tensors) with the version pinned in the path, hedging and retrying through `HedgedCall`. Inference requests
/// past the model's in-flight bound are refused with 503 at once.
final class RouterResponder: HTTPResponder {
    let configuration: RouterConfiguration
    let store: RoutingTableStore
    let client: HTTP2ClientPool
    let pool: UpstreamPool
    let latencies = ModelLatencies()
    let limiter: InFlightLimiter
    let containment: QueryOfDeathGuard
    let logger: Logger
    private let budgets = NIOLockedValueBox<[String: HedgeBudget]>([:])

    init(configuration: RouterConfiguration, store: RoutingTableStore, client: HTTP2ClientPool, pool: UpstreamPool, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.client = client
        self.pool = pool
        self.limiter = InFlightLimiter(limit: configuration.maxInFlightPerModel)
        self.containment = QueryOfDeathGuard(settings: configuration.quarantine)
        self.logger = logger
    }

    func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        let loop = context.eventLoop
        if request.path == "/metrics" { return loop.makeSucceededFuture(MetricsEndpoint.response()) }
        if request.path == "/v1/routes" { return loop.makeSucceededFuture(.json(store.current)) }
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
            return loop.makeSucceededFuture(.jsonBytes(.init(string: #"{"name":"hedgerow-router","version":"0.1.0","extensions":[]}"#)))
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

    private func forward(
        _ request: HTTPRequest, route: InferenceRoute, model: ModelName, selector: VersionSelector,
        action: InferenceRoute.Action, context: RequestContext
    ) -> EventLoopFuture<HTTPResponse> {
        let started = NIODeadline.now()
        let table = store.current
        let version: ModelVersion, replicas: [String]
        do {
            (version, replicas) = try table.resolve(model: model, selector: selector)
        } catch {
            record(model.rawValue, status: error.httpStatus, since: started)
            return context.eventLoop.makeSucceededFuture(.error(error))
        }
        if action == .v2Ready {
            return context.eventLoop.makeSucceededFuture(.jsonBytes(.init(string: #"{"ready":true}"#)))
        }
        var upstream = request
        upstream.target = route.path(pinnedTo: version)
        upstream.headers.remove(name: "connection")
        upstream.headers.remove(name: "host")
        let modelName = model.rawValue
        var fingerprint: RequestFingerprint?
        if route.isInference {
            let id = RequestFingerprint(model: modelName, target: upstream.target, body: request.body)
            if let refusal = containment.refusal(for: id, now: started.uptimeNanoseconds) {
                Counter(label: MetricNames.routerQuarantinedRefusals, dimensions: [("model", modelName)]).increment()
                record(modelName, status: refusal.httpStatus, since: started)
                return context.eventLoop.makeSucceededFuture(.error(refusal))
            }
            fingerprint = id
            guard limiter.acquire(modelName) else {
                Counter(label: MetricNames.routerShed, dimensions: [("model", modelName)]).increment()
                record(modelName, status: 503, since: started)
                return context.eventLoop.makeSucceededFuture(.error(HedgerowError(.unavailable,
                    "model '\(modelName)' has \(limiter.limit) requests in flight on this router, its limit; retry shortly")))
            }
        }
        let routes = table.models[modelName]
        let policy = routes?.hedging ?? .default
        let budget = self.budget(for: modelName)
        if route.isInference { budget.deposit(percent: policy.budgetPercent) }
        var timeoutMs = policy.timeoutMs ?? configuration.defaultTimeoutMs
        if let given = request.headers.first(name: "hedgerow-timeout-ms").flatMap({ Int($0) }), given > 0 { timeoutMs = given }
        let id = ModelVersionID(model: model, version: version)
        var hedgeDelay: TimeAmount?
        if route.isInference && policy.isEnabled {
            let delay = latencies.hedgeDelay(id, policy: policy)
            Gauge(label: MetricNames.routerHedgeDelay, dimensions: [("model", modelName)]).record(Double(delay.nanoseconds) / 1e9)
            hedgeDelay = delay
        }
        let latencies = self.latencies
        let (ordered, ejected) = pool.candidates(replicas, now: started.uptimeNanoseconds)
        let zones = routes?.zones ?? [:]
        let candidates = EndpointSelector.spreadBackups(ordered) { address in
            zones[address] ?? (try? HostAndPort.parse(address).host) ?? address
        }
        Gauge(label: MetricNames.routerEjectedReplicas, dimensions: [("model", modelName)]).record(ejected)
        let call = HedgedCall(
            context: .init(
                model: modelName, request: upstream,
                candidates: candidates,
                hedgeDelay: hedgeDelay,
                maxAttempts: policy.maxAttempts,
                deadline: .milliseconds(Int64(timeoutMs)),
                recordSuccess: { nanos in if route.isInference { latencies.record(id, nanos: nanos) } },
                fingerprint: fingerprint
            ),
            eventLoop: context.eventLoop, client: client, pool: pool, budget: budget, containment: containment, logger: logger
        )
        let answer = call.run(cancellation: context.cancellation)
        guard route.isInference else { return answer }
        answer.whenComplete { [self] result in
            limiter.release(modelName)
            if case .success(let response) = result { record(modelName, status: Int(response.status.code), since: started) }
        }
        return answer
    }

    private func budget(for model: String) -> HedgeBudget {
        budgets.withLockedValue { budgets in
            if let budget = budgets[model] { return budget }
            let budget = HedgeBudget()
            budgets[model] = budget
            return budget
        }
    }

    private func record(_ model: String, status: Int, since started: NIODeadline) {
        Timer(label: MetricNames.routerRequestDuration, dimensions: [("model", model), ("code", String(status))])
            .recordNanoseconds((NIODeadline.now() - started).nanoseconds)
    }
}
