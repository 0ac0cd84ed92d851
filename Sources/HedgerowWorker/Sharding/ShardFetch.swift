import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import HedgerowRuntime
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// One lookup to one shard, hedged: the first replica is asked; if no answer comes within the shard's hedge delay
/// (and the budget allows), the next is asked too; the first good answer wins and the other stream is reset.
///
/// A replica that cannot have seen the request (connection refused) or answers with a failure (503, 409 for
/// other content, a lost connection) is replaced by the next one at once, outside the budget: that is not extra
/// load, it is the only attempt left. A 400 is the request's own fault and ends the lookup. When every replica
/// has failed, or none is listed, the lookup fails with a 503 naming the shard; at the deadline, with a 504.
final class ShardFetch: Sendable {
    private struct State {
        var next = 0
        var inFlight: [Int: HTTP2ClientCall] = [:]
        var failures: [String] = []
        var done = false
        var timers: [Scheduled<Void>] = []
    }

    private let model: ModelVersionID
    private let shard: Int
    private let replicas: [String]
    private let request: HTTPRequest
    private let hedgeAfter: TimeAmount?
    private let deadline: NIODeadline
    private let client: HTTP2ClientPool
    private let loop: any EventLoop
    private let mayHedge: @Sendable () -> Bool
    private let answered: @Sendable (UInt64) -> Void
    private let promise: EventLoopPromise<HTTPResponse>
    private let state = NIOLockedValueBox(State())
    private let started = NIODeadline.now()

    init(
        model: ModelVersionID, shard: Int, replicas: [String], request: LookupMessages.Request, hedgeAfter: TimeAmount?,
        deadline: NIODeadline, client: HTTP2ClientPool, loop: any EventLoop,
        mayHedge: @escaping @Sendable () -> Bool, answered: @escaping @Sendable (UInt64) -> Void
    ) {
        (self.model, self.shard, self.replicas, self.hedgeAfter, self.deadline) = (model, shard, replicas, hedgeAfter, deadline)
        (self.client, self.loop, self.mayHedge, self.answered) = (client, loop, mayHedge, answered)
        let part = ShardingPolicy.partName(model.model, shard: shard)
        self.request = HTTPRequest(
            method: .POST, target: "/v1/parts/\(part)/versions/\(model.version)/lookup",
            headers: ["content-type": LookupMessages.contentType], body: ByteBuffer(bytes: LookupMessages.encode(request))
        )
        self.promise = loop.makePromise(of: HTTPResponse.self)
    }

    private var dimensions: [(String, String)] { [("model", model.model.rawValue), ("shard", String(shard))] }

    func start() -> EventLoopFuture<HTTPResponse> {
        guard !replicas.isEmpty else {
            fail(HedgerowError(.unavailable, "model '\(model.model)' v\(model.version): shard \(shard) has no ready replica"))
            return promise.futureResult
        }
        let deadlineTimer = loop.scheduleTask(deadline: deadline) { [self] in
            fail(HedgerowError(.deadlineExceeded, "model '\(model.model)' v\(model.version): shard \(shard) did not answer its lookup within the deadline"))
        }
        let hedgeTimer = hedgeAfter.flatMap { delay in
            replicas.count > 1 ? loop.scheduleTask(in: delay) { [self] in hedge() } : nil
        }
        state.withLockedValue { $0.timers = [deadlineTimer] + (hedgeTimer.map { [$0] } ?? []) }
        sendNext(reason: nil)
        return promise.futureResult
    }

    private func hedge() {
        guard state.withLockedValue({ !$0.done && $0.next < replicas.count }), mayHedge() else { return }
        sendNext(reason: "hedge")
    }

    /// Sends to the next replica not yet asked; false when none is left.
    @discardableResult
    private func sendNext(reason: String?) -> Bool {
        let index: Int? = state.withLockedValue { state in
            guard !state.done, state.next < replicas.count else { return nil }
            defer { state.next += 1 }
            return state.next
        }
        guard let index else { return false }
        if let reason { Counter(label: MetricNames.workerLookupBackups, dimensions: dimensions + [("reason", reason)]).increment() }
        let call = client.execute(request, to: replicas[index], on: loop, timeout: nil)
        state.withLockedValue { $0.inFlight[index] = call }
        call.response.whenComplete { [self] result in settle(index, result) }
        return true
    }

    private func settle(_ index: Int, _ result: Result<HTTPResponse, any Error>) {
        if case .failure(HTTP2ClientError.cancelled) = result { return }
        let replica = replicas[index]
        switch result {
        case .success(let response) where response.status == .ok:
            let micros = UInt64(clamping: max(0, (NIODeadline.now() - started).nanoseconds / 1000))
            answered(micros)
            Metrics.Timer(label: MetricNames.workerLookupDuration, dimensions: dimensions).recordNanoseconds(Int64(micros) * 1000)
            succeed(response, winner: index)
            return
        case .success(let response) where response.status == .badRequest:
            fail(HedgerowError(.badRequest, Self.message(response) ?? "shard \(shard) refused the lookup"))
            return
        case .success(let response):
            if response.status == .conflict {
                Counter(label: MetricNames.workerLookupDigestMismatches, dimensions: [("model", model.model.rawValue)]).increment()
            }
            record("\(replica) answered \(response.status.code)\(Self.message(response).map { ": \($0)" } ?? "")", index)
        case .failure(let error):
            record("\(replica): \(error)", index)
        }
        if !sendNext(reason: "retry"), state.withLockedValue({ $0.inFlight.isEmpty }) {
            let tried = state.withLockedValue { $0.failures.joined(separator: "; ") }
            Counter(label: MetricNames.workerLookupFailures, dimensions: dimensions).increment()
            fail(HedgerowError(.unavailable, "model '\(model.model)' v\(model.version): no replica of shard \(shard) answered its lookup (\(tried))"))
        }
    }

    private func record(_ failure: String, _ index: Int) {
        state.withLockedValue { state in
            state.inFlight[index] = nil
            state.failures.append(failure)
        }
    }

    private func succeed(_ response: HTTPResponse, winner: Int) {
        guard let losers = finish() else { return }
        for (index, call) in losers where index != winner { call.cancel() }
        promise.succeed(response)
    }

    private func fail(_ error: HedgerowError) {
        guard let losers = finish() else { return }
        for call in losers.values { call.cancel() }
        promise.fail(error)
    }

    /// Marks the lookup done: the calls still in flight, or nil when it was already done (the promise is then
    /// complete, and must not be completed again).
    private func finish() -> [Int: HTTP2ClientCall]? {
        let ended = state.withLockedValue { state -> ([Int: HTTP2ClientCall], [Scheduled<Void>])? in
            guard !state.done else { return nil }
            state.done = true
            defer { state.inFlight = [:]; state.timers = [] }
            return (state.inFlight, state.timers)
        }
        guard let (calls, timers) = ended else { return nil }
        for timer in timers { timer.cancel() }
        return calls
    }

    private static func message(_ response: HTTPResponse) -> String? {
        try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body.readableBytesView)).error
    }
}
