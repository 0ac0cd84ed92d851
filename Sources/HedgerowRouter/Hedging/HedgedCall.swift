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
    }

    private let context: Context
    private let eventLoop: any EventLoop
    private let client: HTTP2ClientPool
    private let pool: UpstreamPool
    private let budget: HedgeBudget
    private let logger: Logger
    private var machine: HedgedCallStateMachine<HTTPResponse>
    private var calls: [Int: (call: HTTP2ClientCall, replica: String, kind: HedgedCallStateMachine<HTTPResponse>.AttemptKind)] = [:]
    private var timers: [Scheduled<Void>] = []
    /// Why the last attempt failed, the `reason` of the retry it leads to.
    private var lastFailureReason = "unknown"
    private let promise: EventLoopPromise<HTTPResponse>

    init(context: Context, eventLoop: any EventLoop, client: HTTP2ClientPool, pool: UpstreamPool, budget: HedgeBudget, logger: Logger) {
        self.context = context
        self.eventLoop = eventLoop
        self.client = client
        self.pool = pool
        self.budget = budget
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
                if case .success(let response) = result, (200..<300).contains(response.status.code) { context.recordSuccess(took) }
                perform(machine.attemptFinished(attempt, classify(result)) { withdraw(refusal: MetricNames.routerRetryBudgetRefusals) })
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
        case .fail(let message, let cancel):
            self.cancel(cancel)
            let expired = message == "deadline exceeded"
            complete(.error(HedgerowError(expired ? .deadlineExceeded : .unavailable,
                                          expired ? "model '\(context.model)': no answer within the deadline" : "model '\(context.model)': no replica could answer: \(message)")))
        }
    }

    private func classify(_ result: Result<HTTPResponse, any Error>) -> HedgedCallStateMachine<HTTPResponse>.Outcome {
        switch result {
        case .success(let response) where response.status == .serviceUnavailable:
            lastFailureReason = "unavailable"
            return .overloaded("replica answered 503: \(String(buffer: response.body))")
        case .success(let response):
            return .response(response)
        case .failure(let error as HTTP2ClientError) where error.isSafeToRetry:
            lastFailureReason = error.reason
            return .connectionFailed(error.description)
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
