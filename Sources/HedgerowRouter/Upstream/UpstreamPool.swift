import NIOConcurrencyHelpers

/// What the router knows about every replica it sends to, shared by its event loops: requests in flight and the
/// peak-EWMA latency (the balancing cost), and the outlier detector's ejections. One lock, held for a few
/// dictionary operations per attempt.
public final class UpstreamPool: Sendable {
    /// How an attempt ended, as far as the replica's health is concerned.
    public enum AttemptResult: Sendable {
        /// The replica answered (any status below 500: a 4xx is the client's problem, not the replica's).
        case answered
        /// A 5xx, a reset, a lost connection; `connectFailed` when no connection could be made at all.
        case failed(connectFailed: Bool)
        /// Cancelled before an answer (a hedge lost, the client left, the deadline passed): says only that the
        /// replica took at least this long.
        case abandoned
    }

    private struct Load {
        var outstanding = 0
        var latency = PeakEWMA()
    }

    private struct State {
        var loads: [String: Load] = [:]
        var outliers: OutlierDetector
    }

    /// What power of two choices compares.
    public enum Balancing: String, Sendable, CaseIterable {
        /// Peak-EWMA latency × (requests in flight + 1): slow replicas lose traffic too (the default).
        case peakEWMA = "peak-ewma"
        /// Requests in flight only: a slow replica keeps its share until requests pile up on it. For comparison.
        case leastRequests = "least-requests"
    }

    private let state: NIOLockedValueBox<State>
    private let balancing: Balancing

    public init(outlierSettings: OutlierDetector.Settings = .init(), balancing: Balancing = .peakEWMA) {
        state = NIOLockedValueBox(State(outliers: OutlierDetector(settings: outlierSettings)))
        self.balancing = balancing
    }

    /// The order in which to try `pool` for one request: ejected replicas left out (never more than half the pool),
    /// then power of two choices on cost first, the rest by cost. Also returns how many replicas were left out.
    public func candidates(_ pool: [String], now: UInt64, random: (Int) -> Int = { Int.random(in: 0..<$0) }) -> (order: [String], ejected: Int) {
        state.withLockedValue { state in
            let usable = state.outliers.usable(pool)
            let costs = Dictionary(usable.map { replica in
                let load = state.loads[replica] ?? Load()
                switch balancing {
                case .peakEWMA: return (replica, load.latency.cost(outstanding: load.outstanding, now: now))
                case .leastRequests: return (replica, Double(load.outstanding))
                }
            }, uniquingKeysWith: { a, _ in a })
            return (EndpointSelector.order(usable, cost: { costs[$0] ?? 0 }, random: random), pool.count - usable.count)
        }
    }

    public func attemptStarted(_ replica: String) {
        state.withLockedValue { $0.loads[replica, default: Load()].outstanding += 1 }
    }

    /// Records the end of an attempt that took `nanos`. Returns true when it got the replica ejected.
    @discardableResult
    public func attemptEnded(_ replica: String, nanos: Int64, result: AttemptResult, now: UInt64) -> Bool {
        state.withLockedValue { state in
            var load = state.loads[replica] ?? Load()
            load.outstanding = max(load.outstanding - 1, 0)
            load.latency.observe(nanos: Double(nanos), now: now)
            state.loads[replica] = load
            switch result {
            case .answered:
                state.outliers.recordSuccess(replica)
                return false
            case .failed(let connectFailed):
                return state.outliers.recordFailure(replica, connectFailed: connectFailed, now: now)
            case .abandoned:
                return false
            }
        }
    }

    public func outstanding(_ replica: String) -> Int { state.withLockedValue { $0.loads[replica]?.outstanding ?? 0 } }

    public func latencyEstimate(_ replica: String, now: UInt64) -> Double? {
        state.withLockedValue { $0.loads[replica]?.latency.estimate(now: now) }
    }

    public func isEjected(_ replica: String) -> Bool { state.withLockedValue { $0.outliers.isEjected(replica) } }

    public func dueForProbe(now: UInt64) -> [String] { state.withLockedValue { $0.outliers.dueForProbe(now: now) } }

    public func recordProbe(_ replica: String, healthy: Bool, now: UInt64) {
        state.withLockedValue { $0.outliers.recordProbe(replica, healthy: healthy, now: now) }
    }

    /// Forgets replicas that left every pool of the routing table, except those with requests still in flight
    /// (they finish normally; a table update never drops a request).
    public func retain(_ addresses: Set<String>) {
        state.withLockedValue { state in
            state.loads = state.loads.filter { addresses.contains($0.key) || $0.value.outstanding > 0 }
            state.outliers.retain(addresses)
        }
    }
}
