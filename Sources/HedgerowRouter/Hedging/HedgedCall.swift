import HedgerowCore
import HedgerowGRPC
import HedgerowHTTP
import HedgerowMetrics
import Logging
import Metrics
import NIOCore

/// Carries out a `HedgedCallStateMachine` for one client request on its event loop: sends attempts through the
/// `UpstreamTransport`, arms the hedge timer and the deadline, resets losing attempts, reports every attempt to
/// the `UpstreamPool` (balancing cost, ejections; abandoned attempts through `AbandonedWorkProbe`), and counts
/// what it did in the model's `ModelTraffic` metrics.
///
/// Everything here runs on `eventLoop` and reads time from it, so the state machine needs no lock and a test
/// drives the whole call on an embedded event loop with a scripted transport.
final class HedgedCall: @unchecked Sendable {
    typealias Machine = HedgedCallStateMachine<HTTPResponse>

    struct Context {
        var request: HTTPRequest
        var candidates: [String]
        var hedgeDelay: TimeAmount?
        var maxAttempts: Int
        var deadline: TimeAmount
        /// The model's budget share: backups and 503 retries draw on it.
        var budgetPercent: Double
        /// Called with the duration of each attempt that answered 2xx: the hedge delay's latency samples.
        var recordSuccess: @Sendable (Int64) -> Void
        /// The request's identity for query-of-death containment (inference requests only).
        var fingerprint: RequestFingerprint?
    }

    /// What a call uses and does not own: shared by every call of the router.
    struct Dependencies: Sendable {
        var transport: any UpstreamTransport
        var pool: UpstreamPool
        var probe: AbandonedWorkProbe
        var containment: QueryOfDeathGuard
        var logger: Logger
        var metrics = ReplicaMetrics()

        init(transport: any UpstreamTransport, pool: UpstreamPool, containment: QueryOfDeathGuard, logger: Logger) {
            self.transport = transport
            self.pool = pool
            self.probe = AbandonedWorkProbe(transport: transport, pool: pool)
            self.containment = containment
            self.logger = logger
        }
    }

    /// Per-replica metric handles, made once per replica rather than per attempt.
    struct ReplicaMetrics: Sendable {
        let upstreamDurations = MetricHandles<String, Timer> { Timer(label: MetricNames.routerUpstreamDuration, dimensions: [("replica", $0)]) }
        let ejections = MetricHandles<String, Counter> { Counter(label: MetricNames.routerEjections, dimensions: [("replica", $0)]) }
    }

    private struct InFlight {
        var attempt: UpstreamAttempt
        var tracked: UpstreamPool.Attempt
        var kind: HedgedAttemptKind
    }

    private let context: Context
    private let traffic: ModelTraffic
    private let eventLoop: any EventLoop
    private let dependencies: Dependencies
    private var machine: Machine
    private var attempts: [Int: InFlight] = [:]
    /// One timer per call, set for the earlier of the next hedge and the deadline: most calls end before either,
    /// and each timer scheduled and cancelled costs the event loop a heap insertion and a search.
    private var timer: Scheduled<Void>?
    private var nextHedge: NIODeadline?
    private var deadline = NIODeadline.distantFuture
    /// Why the last attempt failed, the `reason` of the retry it leads to.
    private var lastFailureReason = "unknown"
    /// Replicas whose connection died while they held this request.
    private var lostOn: [String] = []
    private let promise: EventLoopPromise<HTTPResponse>

    init(context: Context, traffic: ModelTraffic, eventLoop: any EventLoop, dependencies: Dependencies) {
        self.context = context
        self.traffic = traffic
        self.eventLoop = eventLoop
        self.dependencies = dependencies
        self.machine = Machine(candidates: context.candidates, maxAttempts: context.maxAttempts)
        self.promise = eventLoop.makePromise()
    }

    private var model: String { traffic.model }
    private var now: UInt64 { eventLoop.now.uptimeNanoseconds }

    /// Starts the call; the future completes with the winning response, or a 503/504 error response.
    func run(cancellation: CancellationSignal? = nil) -> EventLoopFuture<HTTPResponse> {
        eventLoop.assertInEventLoop()
        let started = eventLoop.now
        deadline = started + context.deadline
        nextHedge = context.hedgeDelay.map { started + $0 }
        perform(machine.start())
        armTimer()
        cancellation?.onCancel { [self] in
            eventLoop.execute { self.perform(self.machine.clientCancelled()) }
        }
        return promise.futureResult
    }

    private func armTimer() {
        guard !machine.isFinished else { return }
        let when = min(nextHedge ?? deadline, deadline)
        timer = eventLoop.scheduleTask(deadline: when) { [self] in timerFired() }
    }

    /// Each time the hedge delay passes without an answer, one more backup may go out (up to `maxAttempts` in
    /// flight, as gRPC's hedging policy does); at the deadline the call ends.
    private func timerFired() {
        timer = nil
        let now = eventLoop.now
        if now >= deadline {
            perform(machine.deadlineExpired())
            return
        }
        if let hedgeAt = nextHedge, now >= hedgeAt {
            nextHedge = nil
            let action = machine.hedgeTimerFired { withdraw(refusals: traffic.metrics.hedgeBudgetRefusals) }
            perform(action)
            if case .start = action, let delay = context.hedgeDelay { nextHedge = now + delay }
        }
        armTimer()
    }

    /// Takes a budget token for a backup or a 503 retry, counting a refusal in `refusals`.
    private func withdraw(refusals: Counter) -> Bool {
        let granted = traffic.withdraw(percent: context.budgetPercent, now: now)
        if !granted { refusals.increment() }
        return granted
    }

    private func perform(_ action: Machine.Action) {
        switch action {
        case .none:
            return
        case .start(let number, let replica, let kind):
            start(number, on: replica, kind: kind)
        case .finish(var response, let winner, let losers):
            abandon(losers)
            if !losers.isEmpty { traffic.metrics.cancelledAttempts.increment(by: losers.count) }
            if attempts[winner]?.kind == .hedge { traffic.hedgeWon(now: now) }
            if let replica = attempts[winner]?.tracked.replica { response.headers.replaceOrAdd(name: "hedgerow-replica", value: replica) }
            // Backups were sent (hedges or retries): the client, and the inference log, can tell.
            if let started = attempts.keys.max(), started > 1 { response.headers.replaceOrAdd(name: "hedgerow-attempts", value: String(started)) }
            complete(response)
        case .fail(let failure, let cancel):
            abandon(cancel)
            complete(.error(error(for: failure)))
        }
    }

    private func start(_ number: Int, on replica: String, kind: HedgedAttemptKind) {
        var request = context.request
        if number > 1 { request.headers.replaceOrAdd(name: "hedgerow-attempt", value: String(number)) }
        // What is left of the client's deadline, so that work the worker itself sends on (a sharded entry's
        // lookups) ends with it.
        let left = (deadline - NIODeadline.now()).nanoseconds / 1_000_000
        request.headers.replaceOrAdd(name: "hedgerow-deadline-ms", value: String(max(1, min(left, Int64(DesiredState.Limits.milliseconds.upperBound)))))
        let tracked = dependencies.pool.attemptStarted(replica, now: now)
        let attempt = dependencies.transport.send(request, to: replica, on: eventLoop, timeout: nil)
        attempts[number] = InFlight(attempt: attempt, tracked: tracked, kind: kind)
        switch kind {
        case .hedge: traffic.hedgeSent(now: now)
        case .retry: (traffic.metrics.retries[lastFailureReason] ?? traffic.metrics.retries["unknown"])?.increment()
        case .primary: break
        }
        attempt.response.whenComplete { [self] result in
            // An abandoned attempt was settled with the pool when it was reset; its late end says nothing.
            if case .failure(HTTP2ClientError.cancelled) = result { return }
            let ended = now
            let took = Int64(clamping: ended >= tracked.startedAt ? ended - tracked.startedAt : 0)
            // The status the answer counts as, read once (for a gRPC answer, from its trailers).
            let status = (try? result.get())?.outcomeStatus
            if dependencies.pool.attemptEnded(tracked, result: healthResult(result, status: status), now: ended) {
                dependencies.metrics.ejections[replica].increment()
                dependencies.logger.warning("ejected replica \(replica) after failures; it returns when /v2/health/ready answers", metadata: ["model": "\(model)"])
            }
            dependencies.metrics.upstreamDurations[replica].recordNanoseconds(took)
            traffic.metrics.attemptDuration[kind]?.recordNanoseconds(took)
            if let status {
                if (200..<300).contains(status) { context.recordSuccess(took) }
                // Whatever it answered, the replica survived this request: it is no query of death.
                if let fingerprint = context.fingerprint { dependencies.containment.recordAnswered(fingerprint, now: ended) }
            }
            let outcome = classify(result, status: status, replica: replica)
            perform(machine.attemptFinished(
                number, outcome,
                budgetAllows: { withdraw(refusals: traffic.metrics.retryBudgetRefusals) },
                knownHarmless: { context.fingerprint.map { dependencies.containment.isKnownHarmless($0, now: ended) } ?? false }
            ))
        }
    }

    /// Resets attempts the call no longer wants and tells the pool the replicas may still hold them.
    private func abandon(_ numbers: [Int]) {
        for number in numbers {
            guard let inFlight = attempts[number] else { continue }
            inFlight.attempt.cancel()
            dependencies.probe.abandon(inFlight.tracked, on: eventLoop)
        }
    }

    private func error(for failure: Machine.Failure) -> HedgerowError {
        switch failure {
        case .deadlineExceeded:
            return HedgerowError(.deadlineExceeded, "model '\(model)': no answer within the deadline")
        case .clientCancelled:
            return HedgerowError(.unavailable, "model '\(model)': cancelled by the client")
        case .noAnswer(let last):
            return HedgerowError(.unavailable, "model '\(model)': no replica could answer: \(last)")
        case .noReplicas:
            return HedgerowError(.unavailable, "model '\(model)': no replica to send to")
        case .lostTwice(let last):
            traffic.metrics.poisonRequests.increment()
            let replicas = lostOn.joined(separator: " and ")
            guard let fingerprint = context.fingerprint else {
                return HedgerowError(.unavailable, "model '\(model)': the connection to \(replicas) was lost while each held this request (\(last))")
            }
            let containment = dependencies.containment
            let quarantined = containment.quarantine(fingerprint, now: now)
            let seconds = containment.settings.duration / 1_000_000_000
            dependencies.logger.error("suspected query of death: the connection to \(replicas) was lost while each held request \(fingerprint) (\(context.request.body.readableBytes) bytes); \(quarantined ? "quarantined for \(seconds) s" : "not quarantined: a replica answered the same request recently")",
                                      metadata: ["model": "\(model)", "fingerprint": "\(fingerprint)"])
            return HedgerowError(.unavailable,
                "model '\(model)': the connection to \(replicas) was lost while each held this request, so it may be what crashes them; "
                + "it is not sent to another replica\(quarantined ? " and is refused for \(seconds) s" : "") (fingerprint \(fingerprint))")
        }
    }

    /// `status`: the answer's `outcomeStatus` (a gRPC answer counts by its status, UNAVAILABLE as 503 and NOT_FOUND
    /// as 404, as the same call over HTTP would).
    private func classify(_ result: Result<HTTPResponse, any Error>, status: Int?, replica: String) -> Machine.Outcome {
        switch result {
        case .success(let response) where status == 503:
            lastFailureReason = "unavailable"
            return .overloaded(.overloaded(replica: replica, detail: Self.detail(of: response)))
        case .success(let response) where status == 404:
            // The routing table says this replica holds the version and the router pinned it, so a 404 means a
            // stale route (a restarted worker not yet given its models again): nothing ran, try another for free.
            lastFailureReason = "not_loaded"
            return .notSent(.notServedHere(replica: replica, detail: Self.detail(of: response)))
        case .success(let response):
            return .response(response)
        case .failure(let error as HTTP2ClientError) where error.isSafeToRetry:
            lastFailureReason = error.reason
            guard error.mayHaveReachedPeer else { return .notSent(.transport(error)) }
            lostOn.append(replica)
            return .lostAfterSent(.transport(error))
        case .failure(let error as HTTP2ClientError):
            return .fatal(.transport(error))
        case .failure(let error):
            return .fatal(.unexpected("\(error)"))
        }
    }

    /// What a failed answer says: its body, or a gRPC answer's `grpc-message`.
    private static func detail(of response: HTTPResponse) -> String {
        response.grpcStatus == nil ? String(buffer: response.body) : response.grpcMessage ?? ""
    }

    private func healthResult(_ result: Result<HTTPResponse, any Error>, status: Int?) -> UpstreamPool.AttemptResult {
        switch result {
        case .success: (status ?? 500) >= 500 ? .failed(connectFailed: false) : .answered
        case .failure(HTTP2ClientError.connectFailed): .failed(connectFailed: true)
        case .failure: .failed(connectFailed: false)
        }
    }

    private func complete(_ response: HTTPResponse) {
        timer?.cancel()
        timer = nil
        promise.succeed(response)
    }
}
