import NIOConcurrencyHelpers

/// What the router knows about every replica it sends to, shared by its event loops: each replica's
/// `ReplicaLoad` (work in flight, abandoned work, peak-EWMA latency) and the outlier detector's ejections. One
/// lock, held for a few dictionary operations per attempt. The order of replicas for a request is
/// `Balancer`'s, fed from here.
public final class UpstreamPool: Sendable {
    public typealias Balancing = Balancer.Balancing

    /// How an attempt ended with an answer or a failure, as far as the replica's health is concerned.
    /// (An attempt the router gave up on is `attemptAbandoned`, not an end: the replica may still hold it.)
    public enum AttemptResult: Sendable {
        /// The replica answered (any status below 500: a 4xx is the client's problem, not the replica's).
        case answered
        /// A 5xx, a reset, a lost connection; `connectFailed` when no connection could be made at all.
        case failed(connectFailed: Bool)
    }

    /// One attempt sent to a replica, as the pool tracks it.
    public struct Attempt: Sendable, Hashable {
        public let replica: String
        let token: ReplicaLoad.Token
        public let startedAt: UInt64
    }

    private struct State {
        var loads: [String: ReplicaLoad] = [:]
        var outliers: OutlierDetector
        var nextToken: ReplicaLoad.Token = 0
    }

    private let state: NIOLockedValueBox<State>
    public let balancing: Balancing

    public init(outlierSettings: OutlierDetector.Settings = .init(), balancing: Balancing = .peakEWMA) {
        state = NIOLockedValueBox(State(outliers: OutlierDetector(settings: outlierSettings)))
        self.balancing = balancing
    }

    /// The order in which to try `pool` for one request (see `Balancer`), and how many replicas were left out
    /// because they are ejected. `domain` names each replica's failure domain (its zone, else its host).
    public func candidates(
        _ pool: [String], domain: (String) -> String = { $0 }, now: UInt64, random: (Int) -> Int = { Int.random(in: 0..<$0) }
    ) -> (order: [String], ejected: Int) {
        state.withLockedValue { state in
            // Each cost once: the sort compares them many times, and a cost walks the replica's outstanding work.
            var costs: [String: Double] = [:]
            for replica in pool {
                let load = state.loads[replica]
                switch balancing {
                case .peakEWMA: costs[replica] = load?.cost(now: now) ?? 0
                case .leastRequests: costs[replica] = Double(load?.outstanding ?? 0)
                }
            }
            return Balancer.order(pool, outliers: state.outliers, cost: { costs[$0] ?? 0 }, domain: domain, random: random)
        }
    }

    public func attemptStarted(_ replica: String, now: UInt64) -> Attempt {
        state.withLockedValue { state in
            state.nextToken &+= 1
            let attempt = Attempt(replica: replica, token: state.nextToken, startedAt: now)
            state.loads[replica, default: ReplicaLoad()].started(attempt.token, now: now)
            return attempt
        }
    }

    /// Records an attempt that ended with an answer or a failure. Returns true when it got the replica ejected.
    @discardableResult
    public func attemptEnded(_ attempt: Attempt, result: AttemptResult, now: UInt64) -> Bool {
        state.withLockedValue { state in
            let nanos = now >= attempt.startedAt ? Int64(clamping: now - attempt.startedAt) : 0
            state.loads[attempt.replica, default: ReplicaLoad()].ended(attempt.token, nanos: nanos, now: now)
            switch result {
            case .answered:
                state.outliers.recordSuccess(attempt.replica)
                return false
            case .failed(let connectFailed):
                return state.outliers.recordFailure(attempt.replica, connectFailed: connectFailed, now: now)
            }
        }
    }

    /// Records that the router reset an attempt without an answer (a hedge won, the deadline passed, the client
    /// left): it stays outstanding until a liveness probe shows the replica responsive (see `ReplicaLoad`).
    /// Returns true when the caller should send that probe now, then report `probeSent` and `probeEnded`.
    public func attemptAbandoned(_ attempt: Attempt, now: UInt64) -> Bool {
        state.withLockedValue { $0.loads[attempt.replica]?.abandon(attempt.token, now: now) ?? false }
    }

    public func probeSent(_ replica: String, now: UInt64) {
        state.withLockedValue { $0.loads[replica]?.probeSent(now: now) }
    }

    /// The liveness probe came back (or failed). Returns true when another probe is needed for attempts
    /// abandoned after this one was sent.
    public func probeEnded(_ replica: String, now: UInt64) -> Bool {
        state.withLockedValue { $0.loads[replica]?.probeEnded(now: now) ?? false }
    }

    public func outstanding(_ replica: String) -> Int { state.withLockedValue { $0.loads[replica]?.outstanding ?? 0 } }

    public func latencyEstimate(_ replica: String, now: UInt64) -> Double? {
        state.withLockedValue { $0.loads[replica]?.latency.estimate(now: now) }
    }

    public func cost(_ replica: String, now: UInt64) -> Double {
        state.withLockedValue { $0.loads[replica]?.cost(now: now) ?? 0 }
    }

    public func isEjected(_ replica: String) -> Bool { state.withLockedValue { $0.outliers.isEjected(replica) } }

    public func dueForProbe(now: UInt64) -> [String] { state.withLockedValue { $0.outliers.dueForProbe(now: now) } }

    public func recordProbe(_ replica: String, healthy: Bool, now: UInt64) {
        state.withLockedValue { $0.outliers.recordProbe(replica, healthy: healthy, now: now) }
    }

    /// Forgets replicas that left every pool of the routing table, except those with work still outstanding
    /// (it finishes normally; a table update never drops a request).
    public func retain(_ addresses: Set<String>) {
        state.withLockedValue { state in
            state.loads = state.loads.filter { addresses.contains($0.key) || !$0.value.isIdle }
            state.outliers.retain(addresses)
        }
    }
}
