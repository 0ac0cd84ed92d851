import HedgerowCore
import HedgerowMetrics
import Metrics
import NIOConcurrencyHelpers
import NIOCore

/// Everything one router keeps about one model's traffic, in one object shared by its event loops: the hedge
/// budget, the latency window (and cached hedge delay) of each version, the count of requests in flight
/// against the model's bound, the per-second history `/dashboard` draws, and the model's metric handles, made
/// once instead of per request.
///
/// One lock guards all of it; it is held for a few arithmetic steps, except when the hedge delay is recomputed
/// (merging a few HDR histograms, at most every `refreshNanos` per version) and when a second of history is
/// closed (three percentiles of one histogram, once a second).
final class ModelTraffic: Sendable {
    let model: String
    let metrics: Metrics

    private struct VersionLatency {
        var window = LatencyWindow()
        var delay: (micros: UInt64, policy: HedgingPolicy, at: UInt64)?
    }

    private struct State {
        var budget: HedgeBudget
        var versions: [ModelVersion: VersionLatency] = [:]
        var inFlight = 0
        /// Mirrors to a canary in flight (see `admitMirror`).
        var mirrorsInFlight = 0
        var history: TrafficHistory
        /// The hedge delay computed last, of any version: what the dashboard shows.
        var lastDelayMicros: UInt64?
    }

    private let state: NIOLockedValueBox<State>
    private let refreshNanos: UInt64

    init(model: String, budget: HedgeBudget.Settings = .init(), refreshNanos: UInt64 = 100_000_000) {
        self.model = model
        self.metrics = Metrics(model: model)
        self.state = NIOLockedValueBox(State(budget: HedgeBudget(settings: budget), history: TrafficHistory(now: NIODeadline.now().uptimeNanoseconds)))
        self.refreshNanos = refreshNanos
    }

    // MARK: In-flight bound

    /// Takes a slot for one inference request; false when `limit` requests of the model are in flight.
    func admit(limit: Int) -> Bool {
        let admitted = state.withLockedValue { state in
            guard state.inFlight < limit else { return false }
            state.inFlight += 1
            return true
        }
        if admitted { metrics.inFlight.increment() }
        return admitted
    }

    /// Gives back the slot `admit` took, and records how the request was answered.
    func release(status: Int, nanos: Int64, now: UInt64) {
        state.withLockedValue { state in
            state.inFlight = max(state.inFlight - 1, 0)
            state.history.recordAnswer(status: status, micros: UInt64(max(nanos, 0) / 1000), now: now)
        }
        metrics.inFlight.decrement()
    }

    /// Takes a slot for a mirror to a canary, which is shed first: admitted only while served requests and mirrors
    /// together stay under `limit` and mirrors hold at most a quarter of it. Served requests never count mirrors
    /// against their own bound, so a mirror cannot turn a client away.
    func admitMirror(limit: Int) -> Bool {
        state.withLockedValue { state in
            guard state.inFlight + state.mirrorsInFlight < limit, state.mirrorsInFlight < max(1, limit / 4) else { return false }
            state.mirrorsInFlight += 1
            return true
        }
    }

    func releaseMirror() {
        state.withLockedValue { $0.mirrorsInFlight = max($0.mirrorsInFlight - 1, 0) }
    }

    /// Records an inference request answered without being admitted (shed, quarantined).
    func recordRefused(status: Int, nanos: Int64, now: UInt64) {
        state.withLockedValue { $0.history.recordAnswer(status: status, micros: UInt64(max(nanos, 0) / 1000), now: now) }
    }

    // MARK: Hedges

    func hedgeSent(now: UInt64) {
        metrics.hedges.increment()
        state.withLockedValue { $0.history.recordHedge(now: now) }
    }

    func hedgeWon(now: UInt64) {
        metrics.hedgeWins.increment()
        state.withLockedValue { $0.history.recordHedgeWin(now: now) }
    }

    // MARK: Dashboard

    /// The model's finished seconds of history, its requests in flight and the hedge delay in force.
    func dashboardSnapshot(now: UInt64) -> (points: [TrafficHistory.Point], inFlight: Int, hedgeDelayMicros: UInt64?) {
        state.withLockedValue { state in (state.history.points(now: now), state.inFlight, state.lastDelayMicros) }
    }

    var inFlight: Int { state.withLockedValue { $0.inFlight } }

    // MARK: Budget

    /// Records one request of the model against the budget (`percent`% of requests may be extra attempts).
    func deposit(percent: Double, now: UInt64) {
        state.withLockedValue { $0.budget.deposit(percent: percent, now: now) }
    }

    /// Takes one extra attempt from the budget.
    func withdraw(percent: Double, now: UInt64) -> Bool {
        state.withLockedValue { $0.budget.withdraw(percent: percent, now: now) }
    }

    // MARK: Latency and hedge delay

    /// Records a successful attempt's latency (what the replica took, not what the client waited).
    func record(_ version: ModelVersion, nanos: Int64, now: UInt64) {
        state.withLockedValue { state in
            state.versions[version, default: VersionLatency()].window.record(micros: UInt64(max(nanos, 0) / 1000), now: now)
        }
    }

    /// The hedge delay for the next request of `version`, recomputed at most every `refreshNanos` (a percentile
    /// moves little in 100 ms, and computing one merges histograms: far more work than the rest of forwarding).
    func hedgeDelay(_ version: ModelVersion, policy: HedgingPolicy, now: UInt64) -> TimeAmount {
        let (micros, recomputed) = state.withLockedValue { state in
            var entry = state.versions[version] ?? VersionLatency()
            if let cached = entry.delay, cached.policy == policy, now >= cached.at, now - cached.at < refreshNanos { return (cached.micros, false) }
            let micros = HedgeDelay.micros(policy: policy, window: entry.window, now: now)
            entry.delay = (micros, policy, now)
            state.versions[version] = entry
            state.lastDelayMicros = micros
            return (micros, true)
        }
        if recomputed { metrics.hedgeDelay.record(Double(micros) / 1e6) }
        return .microseconds(Int64(micros))
    }
}

extension ModelTraffic {
    /// The model's metric handles. Created once: a handle lookup goes through the metrics factory's lock.
    struct Metrics: Sendable {
        let hedges, hedgeWins, hedgeBudgetRefusals, retryBudgetRefusals, cancelledAttempts: Counter
        let shed, quarantinedRefusals, poisonRequests: Counter
        let hedgeDelay, ejectedReplicas: Gauge
        let inFlight: Meter
        let attemptDuration: [HedgedAttemptKind: Timer]
        /// Retries by reason: the reasons of `HTTP2ClientError`, `unavailable` (503) and `not_loaded` (404).
        let retries: [String: Counter]

        init(model: String) {
            let dimensions = [("model", model)]
            hedges = Counter(label: MetricNames.routerHedges, dimensions: dimensions)
            hedgeWins = Counter(label: MetricNames.routerHedgeWins, dimensions: dimensions)
            hedgeBudgetRefusals = Counter(label: MetricNames.routerHedgeBudgetRefusals, dimensions: dimensions)
            retryBudgetRefusals = Counter(label: MetricNames.routerRetryBudgetRefusals, dimensions: dimensions)
            cancelledAttempts = Counter(label: MetricNames.routerCancelledAttempts, dimensions: dimensions)
            shed = Counter(label: MetricNames.routerShed, dimensions: dimensions)
            quarantinedRefusals = Counter(label: MetricNames.routerQuarantinedRefusals, dimensions: dimensions)
            poisonRequests = Counter(label: MetricNames.routerPoisonRequests, dimensions: dimensions)
            hedgeDelay = Gauge(label: MetricNames.routerHedgeDelay, dimensions: dimensions)
            ejectedReplicas = Gauge(label: MetricNames.routerEjectedReplicas, dimensions: dimensions)
            inFlight = Meter(label: MetricNames.routerRequestsInFlight, dimensions: dimensions)
            var durations: [HedgedAttemptKind: Timer] = [:]
            for kind in [HedgedAttemptKind.primary, .hedge, .retry] {
                durations[kind] = Timer(label: MetricNames.routerAttemptDuration, dimensions: dimensions + [("attempt", kind.rawValue)])
            }
            attemptDuration = durations
            var retries: [String: Counter] = [:]
            for reason in ["connect", "refused", "connection_lost", "reset", "cancelled", "timeout", "unavailable", "not_loaded", "unknown"] {
                retries[reason] = Counter(label: MetricNames.routerRetries, dimensions: dimensions + [("reason", reason)])
            }
            self.retries = retries
        }
    }
}

/// The `ModelTraffic` of every model this router has served, made on first use.
final class ModelTrafficRegistry: Sendable {
    private let models = NIOLockedValueBox<[String: ModelTraffic]>([:])
    private let budget: HedgeBudget.Settings

    init(budget: HedgeBudget.Settings = .init()) {
        self.budget = budget
    }

    /// Every model served so far, by name.
    var all: [String: ModelTraffic] { models.withLockedValue { $0 } }

    func traffic(for model: String) -> ModelTraffic {
        models.withLockedValue { models in
            if let traffic = models[model] { return traffic }
            let traffic = ModelTraffic(model: model, budget: budget)
            models[model] = traffic
            return traffic
        }
    }
}
