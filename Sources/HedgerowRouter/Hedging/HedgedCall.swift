import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import Metrics
import NIOCore

/// Carries out a `HedgedCallStateMachine` for one client request on its event loop: sends attempts through the
/// pooled HTTP/2 client, arms the hedge timer and the deadline, resets losing streams, records metrics.
///
/// Everything here runs on `eventLoop`, so the state machine needs no lock.
final class HedgedCall: @unchecked Sendable {
    struct Context {
        var model: String
        var request: HTTPRequest
        var candidates: [String]
        var hedgeDelay: TimeAmount?
        var deadline: TimeAmount
        /// Called with the duration of each attempt that answered 2xx: the hedge delay's latency samples.
        var recordSuccess: @Sendable (Int64) -> Void
    }

    private let context: Context
    private let eventLoop: any EventLoop
    private let client: HTTP2ClientPool
    private let outstanding: OutstandingRequests
    private let budget: HedgeBudget
    private var machine: HedgedCallStateMachine<HTTPResponse>
    private var calls: [Int: (call: HTTP2ClientCall, replica: String, kind: HedgedCallStateMachine<HTTPResponse>.AttemptKind)] = [:]
    private var timers: [Scheduled<Void>] = []
    private let promise: EventLoopPromise<HTTPResponse>

    init(context: Context, eventLoop: any EventLoop, client: HTTP2ClientPool, outstanding: OutstandingRequests, budget: HedgeBudget) {
        self.context = context
        self.eventLoop = eventLoop
        self.client = client
        self.outstanding = outstanding
        self.budget = budget
        self.machine = HedgedCallStateMachine(candidates: context.candidates)
        self.promise = eventLoop.makePromise()
    }

    /// Starts the call; the future completes with the winning response, or a 503/504 error response.
    func run(cancellation: CancellationSignal) -> EventLoopFuture<HTTPResponse> {
        eventLoop.assertInEventLoop()
        perform(machine.start())
        if let delay = context.hedgeDelay {
            timers.append(eventLoop.scheduleTask(in: delay) { [self] in
                perform(machine.hedgeTimerFired {
                    let granted = budget.withdraw()
                    if !granted { Counter(label: MetricNames.routerHedgeBudgetRefusals, dimensions: [("model", context.model)]).increment() }
                    return granted
                })
            })
        }
        timers.append(eventLoop.scheduleTask(in: context.deadline) { [self] in
            perform(machine.deadlineExpired())
        })
        cancellation.onCancel { [self] in
            eventLoop.execute { self.perform(self.machine.clientCancelled()) }
        }
        return promise.futureResult
    }

    private func perform(_ action: HedgedCallStateMachine<HTTPResponse>.Action) {
        switch action {
        case .none:
            return
        case .start(let attempt, let replica, let kind):
            var request = context.request
            if attempt > 1 { request.headers.replaceOrAdd(name: "hedgerow-attempt", value: String(attempt)) }
            outstanding.begin(replica)
            let call = client.execute(request, to: replica, on: eventLoop)
            calls[attempt] = (call, replica, kind)
            if kind == .hedge { Counter(label: MetricNames.routerHedges, dimensions: [("model", context.model)]).increment() }
            let started = NIODeadline.now()
            call.response.whenComplete { [self] result in
                outstanding.end(replica)
                let took = (NIODeadline.now() - started).nanoseconds
                Timer(label: MetricNames.routerUpstreamDuration, dimensions: [("replica", replica)]).recordNanoseconds(took)
                if case .success(let response) = result, (200..<300).contains(response.status.code) { context.recordSuccess(took) }
                perform(machine.attemptFinished(attempt, classify(result)))
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
            Counter(label: MetricNames.routerRetries, dimensions: [("model", context.model), ("reason", "unavailable")]).increment()
            return .retryable("replica answered 503: \(String(buffer: response.body))")
        case .success(let response):
            return .response(response)
        case .failure(let error as HTTP2ClientError) where error.isSafeToRetry:
            Counter(label: MetricNames.routerRetries, dimensions: [("model", context.model), ("reason", error.reason)]).increment()
            return .retryable(error.description)
        case .failure(let error):
            return .fatal("\(error)")
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
