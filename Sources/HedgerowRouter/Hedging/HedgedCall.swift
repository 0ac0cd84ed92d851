import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import Logging
import Metrics
import NIOCore

/// Carries out a `HedgedCallStateMachine` for one client request on its event loop: sends attempts through the
/// pooled HTTP/2 client, arms the hedge timer and the deadline, resets losing streams, reports every attempt's
/// outcome to the `UpstreamPool` (balancing cost, ejections), records metrics.
///
/// Everything here runs on `eventLoop`, so the state machine needs no lock.
final class HedgedCall: @unchecked Sendable {
    struct Context {
        var model: String
        var request: HTTPRequest
        var candidates: [String]
        var hedgeDelay: TimeAmount?
        var maxAttempts: Int
        var deadline: TimeAmount
        /// Called with the duration of each attempt that answered 2xx: the hedge delay's latency samples.
        var recordSuccess: @Sendable (Int64) -> Void
        /// The request's identity for query-of-death containment (inference requests only).
        var fingerprint: RequestFingerprint?
    }

    private let context: Context
    private let eventLoop: any EventLoop
    private let client: HTTP2ClientPool
    private let pool: UpstreamPool
    private let budget: HedgeBudget
    private let containment: QueryOfDeathGuard
    private let logger: Logger
    private var machine: HedgedCallStateMachine<HTTPResponse>
    private var calls: [Int: (call: HTTP2ClientCall, replica: String, kind: HedgedCallStateMachine<HTTPResponse>.AttemptKind)] = [:]
    private var timers: [Scheduled<Void>] = []
    /// Why the last attempt failed, the `reason` of the retry it leads to.
    private var lastFailureReason = "unknown"
    /// Replicas whose connection died while they held this request.
    private var lostOn: [String] = []
    private let promise: EventLoopPromise<HTTPResponse>

    init(
        context: Context, eventLoop: any EventLoop, client: HTTP2ClientPool, pool: UpstreamPool, budget: HedgeBudget,
        containment: QueryOfDeathGuard, logger: Logger
    ) {
        self.context = context
        self.eventLoop = eventLoop
        self.client = client
        self.pool = pool
        self.budget = budget
        self.containment = containment
        self.logger = logger
        self.machine = HedgedCallStateMachine(candidates: context.candidates, maxAttempts: context.maxAttempts)
        self.promise = eventLoop.makePromise()
    }

    /// Starts the call; the future completes with the winning response, or a 503/504 error response.
    func run(cancellation: CancellationSignal) -> EventLoopFuture<HTTPResponse> {
        eventLoop.assertInEventLoop()
        perform(machine.start())
        armHedgeTimer()
        timers.append(eventLoop.scheduleTask(in: context.deadline) { [self] in
            perform(machine.deadlineExpired())
        })
        cancellation.onCancel { [self] in
            eventLoop.execute { self.perform(self.machine.clientCancelled()) }
        }
        return promise.futureResult
    }

    /// Each time the hedge delay passes without an answer, one more backup may go out (up to `maxAttempts` in
    /// flight, as gRPC's hedging policy does).
    private func armHedgeTimer() {
        guard let delay = context.hedgeDelay, !machine.isFinished else { return }
        timers.append(eventLoop.scheduleTask(in: delay) { [self] in
            let action = machine.hedgeTimerFired { withdraw(refusal: MetricNames.routerHedgeBudgetRefusals) }
            perform(action)
            if case .start = action { armHedgeTimer() }
        })
    }

    /// Takes a budget token for a backup or a 503 retry, counting a refusal under `refusal`.
    private func withdraw(refusal: String) -> Bool {
        let granted = budget.withdraw()
        if !granted { Counter(label: refusal, dimensions: [("model", context.model)]).increment() }
        return granted
    }

    private func perform(_ action: HedgedCallStateMachine<HTTPResponse>.Action) {
        switch action {
        case .none:
            return
        case .start(let attempt, let replica, let kind):
            var request = context.request
            if attempt > 1 { request.headers.replaceOrAdd(name: "hedgerow-attempt", value: String(attempt)) }
            pool.attemptStarted(replica)
            let call = client.execute(request, to: replica, on: eventLoop)
            calls[attempt] = (call, replica, kind)
            switch kind {
            case .hedge: Counter(label: MetricNames.routerHedges, dimensions: [("model", context.model)]).increment()
            case .retry: Counter(label: MetricNames.routerRetries, dimensions: [("model", context.model), ("reason", lastFailureReason)]).increment()
            case .primary: break
            }
            let started = NIODeadline.now()
            call.response.whenComplete { [self] result in
                let now = NIODeadline.now()
                let took = (now - started).nanoseconds
                if pool.attemptEnded(replica, nanos: took, result: healthResult(result), now: now.uptimeNanoseconds) {
                    Counter(label: MetricNames.routerEjections, dimensions: [("replica", replica)]).increment()
                    logger.warning("ejected replica \(replica) after failures; it returns when /v2/health/ready answers", metadata: ["model": "\(context.model)"])
                }
                if case .failure(HTTP2ClientError.cancelled) = result { return }
                Timer(label: MetricNames.routerUpstreamDuration, dimensions: [("replica", replica)]).recordNanoseconds(took)
                Timer(label: MetricNames.routerAttemptDuration, dimensions: [("model", context.model), ("attempt", kind.rawValue)]).recordNanoseconds(took)
                if case .success(let response) = result {
                    if (200..<300).contains(response.status.code) { context.recordSuccess(took) }
                    // Whatever it answered, the replica survived this request: it is no query of death.
                    if let fingerprint = context.fingerprint { containment.recordAnswered(fingerprint, now: now.uptimeNanoseconds) }
                }
                let outcome = classify(result, replica: replica)
                perform(machine.attemptFinished(
                    attempt, outcome,
                    budgetAllows: { withdraw(refusal: MetricNames.routerRetryBudgetRefusals) },
                    knownHarmless: { context.fingerprint.map { containment.isKnownHarmless($0, now: now.uptimeNanoseconds) } ?? false }
                ))
            }
        case .finish(var response, let winner, let losers):
            cancel(losers)
            if !losers.isEmpty {
                Counter(label: MetricNames.routerCancelledAttempts, dimensions: [("model", context.model)]).increment(by: losers.count)
            }
            if calls[winner]?.kind == .hedge {
                Counter(label: MetricNames.routerHedgeWins, dimensions: [("model", context.model)]).increment()
            }
            if let replica = calls[winner]?.replica { response.headers.replaceOrAdd(name: "hedgerow-replica", value: replica) }
            complete(response)
        case .fail(let failure, let cancel):
            self.cancel(cancel)
            complete(.error(error(for: failure)))
        }
    }

    private func error(for failure: HedgedCallStateMachine<HTTPResponse>.Failure) -> HedgerowError {
        let model = context.model
        switch failure {
        case .deadlineExceeded:
            return HedgerowError(.deadlineExceeded, "model '\(model)': no answer within the deadline")
        case .clientCancelled:
            return HedgerowError(.unavailable, "model '\(model)': cancelled by the client")
        case .noAnswer(let message):
            return HedgerowError(.unavailable, "model '\(model)': no replica could answer: \(message)")
        case .lostTwice(let message):
            Counter(label: MetricNames.routerPoisonRequests, dimensions: [("model", model)]).increment()
            let replicas = lostOn.joined(separator: " and ")
            guard let fingerprint = context.fingerprint else {
                return HedgerowError(.unavailable, "model '\(model)': the connection to \(replicas) was lost while each held this request (\(message))")
            }
            let quarantined = containment.quarantine(fingerprint, now: NIODeadline.now().uptimeNanoseconds)
            let seconds = containment.settings.duration / 1_000_000_000
            logger.error("suspected query of death: the connection to \(replicas) was lost while each held request \(fingerprint) (\(context.request.body.readableBytes) bytes); \(quarantined ? "quarantined for \(seconds) s" : "not quarantined: a replica answered the same request recently")",
                         metadata: ["model": "\(model)", "fingerprint": "\(fingerprint)"])
            return HedgerowError(.unavailable,
                "model '\(model)': the connection to \(replicas) was lost while each held this request, so it may be what crashes them; "
                + "it is not sent to another replica\(quarantined ? " and is refused for \(seconds) s" : "") (fingerprint \(fingerprint))")
        }
    }

    private func classify(_ result: Result<HTTPResponse, any Error>, replica: String) -> HedgedCallStateMachine<HTTPResponse>.Outcome {
        switch result {
        case .success(let response) where response.status == .serviceUnavailable:
            lastFailureReason = "unavailable"
            return .overloaded("replica answered 503: \(String(buffer: response.body))")
        case .success(let response) where response.status == .notFound:
            // The routing table says this replica holds the version and the router pinned it, so a 404 means a
            // stale route (a restarted worker not yet given its models again): nothing ran, try another for free.
            lastFailureReason = "not_loaded"
            return .notSent("\(replica) does not hold it: \(String(buffer: response.body))")
        case .success(let response):
            return .response(response)
        case .failure(let error as HTTP2ClientError) where error.isSafeToRetry:
            lastFailureReason = error.reason
            guard error.mayHaveReachedPeer else { return .notSent(error.description) }
            lostOn.append(replica)
            return .lostAfterSent(error.description)
        case .failure(let error):
            return .fatal("\(error)")
        }
    }

    private func healthResult(_ result: Result<HTTPResponse, any Error>) -> UpstreamPool.AttemptResult {
        switch result {
        case .success(let response): response.status.code >= 500 ? .failed(connectFailed: false) : .answered
        case .failure(HTTP2ClientError.cancelled): .abandoned
        case .failure(HTTP2ClientError.connectFailed): .failed(connectFailed: true)
        case .failure: .failed(connectFailed: false)
        }
    }

    private func cancel(_ attempts: [Int]) {
        for attempt in attempts { calls[attempt]?.call.cancel() }
    }

    private func complete(_ response: HTTPResponse) {
        for timer in timers { timer.cancel() }
        timers.removeAll()
        promise.succeed(response)
    }
}
