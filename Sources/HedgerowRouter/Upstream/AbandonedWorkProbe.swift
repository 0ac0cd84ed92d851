import HedgerowHTTP
import NIOCore

/// Settles attempts the router abandoned: asks the replica `GET /v2/health/live` on the same event loop (so the
/// same connection, behind the reset streams) and reports the answer to the pool, which then knows how long the
/// replica can have held them (see `ReplicaLoad`). At most one probe per replica is in flight; attempts
/// abandoned while one is out wait for the next. A probe that fails or passes `timeout` settles them too: a
/// replica that cannot answer a liveness probe for that long is charged that long.
struct AbandonedWorkProbe: Sendable {
    static let request = HTTPRequest(method: .GET, target: "/v2/health/live")

    let transport: any UpstreamTransport
    let pool: UpstreamPool
    var timeout: TimeAmount = .seconds(2)

    /// Tells the pool that `attempt` was reset without an answer, and probes its replica if the pool asks.
    func abandon(_ attempt: UpstreamPool.Attempt, on loop: any EventLoop) {
        guard pool.attemptAbandoned(attempt, now: loop.now.uptimeNanoseconds) else { return }
        probe(attempt.replica, on: loop)
    }

    private func probe(_ replica: String, on loop: any EventLoop) {
        pool.probeSent(replica, now: loop.now.uptimeNanoseconds)
        transport.send(Self.request, to: replica, on: loop, timeout: timeout).response.whenComplete { _ in
            if pool.probeEnded(replica, now: loop.now.uptimeNanoseconds) { probe(replica, on: loop) }
        }
    }
}
