/// How a router treats requests of one model: when it sends a backup, how many attempts, how long in all.
/// Validated at construction.
///
/// The hedge delay is the `percentile` of the model's recent latencies clamped to `[minDelayMs, maxDelayMs]`;
/// until enough samples exist the router uses `maxDelayMs`. `budgetPercent` caps hedges and 503 retries together
/// as a share of the model's request rate; `0` turns hedging off (retries after connection failures stay).
/// `maxAttempts` bounds the attempts in flight at once for one request. `timeoutMs` is the model's deadline for
/// requests that carry no `Hedgerow-Timeout-Ms` (nil: the router's own default).
public struct HedgingPolicy: Hashable, Sendable, Codable {
    /// Latency percentile (0 < p < 100) used as the hedge delay.
    public var percentile: Double
    /// Extra attempts allowed, as a percent of requests (0 disables hedging).
    public var budgetPercent: Double
    /// Lower bound of the hedge delay, milliseconds.
    public var minDelayMs: Int
    /// Upper bound of the hedge delay and the delay used before enough samples exist, milliseconds.
    public var maxDelayMs: Int
    /// Attempts in flight at once for one request (the primary included), 1–10.
    public var maxAttempts: Int
    /// Deadline of a request without `Hedgerow-Timeout-Ms`, milliseconds; nil leaves it to the router.
    public var timeoutMs: Int?

    public static let `default` = HedgingPolicy(uncheckedPercentile: 95, budgetPercent: 5, minDelayMs: 1, maxDelayMs: 1000, maxAttempts: 2, timeoutMs: nil)

    public init(percentile: Double, budgetPercent: Double, minDelayMs: Int, maxDelayMs: Int, maxAttempts: Int = 2, timeoutMs: Int? = nil) throws(HedgerowError) {
        guard percentile > 0, percentile < 100 else {
            throw HedgerowError(.invalidConfiguration, "hedging.percentile must be between 0 and 100 (exclusive), got \(percentile)")
        }
        guard budgetPercent >= 0, budgetPercent <= 100 else {
            throw HedgerowError(.invalidConfiguration, "hedging.budgetPercent must be between 0 and 100, got \(budgetPercent)")
        }
        guard minDelayMs >= 0 else {
            throw HedgerowError(.invalidConfiguration, "hedging.minDelayMs must be ≥ 0, got \(minDelayMs)")
        }
        guard maxDelayMs >= minDelayMs else {
            throw HedgerowError(.invalidConfiguration, "hedging.maxDelayMs (\(maxDelayMs)) must be ≥ minDelayMs (\(minDelayMs))")
        }
        guard (1...10).contains(maxAttempts) else {
            throw HedgerowError(.invalidConfiguration, "hedging.maxAttempts must be between 1 and 10, got \(maxAttempts)")
        }
        if let timeoutMs, timeoutMs < 1 {
            throw HedgerowError(.invalidConfiguration, "hedging.timeoutMs must be ≥ 1, got \(timeoutMs)")
        }
        self.init(uncheckedPercentile: percentile, budgetPercent: budgetPercent, minDelayMs: minDelayMs, maxDelayMs: maxDelayMs,
                  maxAttempts: maxAttempts, timeoutMs: timeoutMs)
    }

    private init(uncheckedPercentile: Double, budgetPercent: Double, minDelayMs: Int, maxDelayMs: Int, maxAttempts: Int, timeoutMs: Int?) {
        self.percentile = uncheckedPercentile
        self.budgetPercent = budgetPercent
        self.minDelayMs = minDelayMs
        self.maxDelayMs = maxDelayMs
        self.maxAttempts = maxAttempts
        self.timeoutMs = timeoutMs
    }

    enum CodingKeys: String, CodingKey {
        case percentile, budgetPercent, minDelayMs, maxDelayMs, maxAttempts, timeoutMs
    }

    /// Decodes and validates; `maxAttempts` and `timeoutMs` may be absent (tables cached by older routers).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            percentile: c.decode(Double.self, forKey: .percentile),
            budgetPercent: c.decode(Double.self, forKey: .budgetPercent),
            minDelayMs: c.decode(Int.self, forKey: .minDelayMs),
            maxDelayMs: c.decode(Int.self, forKey: .maxDelayMs),
            maxAttempts: c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? 2,
            timeoutMs: c.decodeIfPresent(Int.self, forKey: .timeoutMs)
        )
    }

    public var isEnabled: Bool { budgetPercent > 0 }
}

/// How a worker merges concurrent requests of one model version into one run.
public struct BatchingPolicy: Hashable, Sendable, Codable {
    /// Most rows run together.
    public var maxBatchSize: Int
    /// Longest a request waits for others to join its batch, microseconds.
    public var maxDelayMicros: Int

    /// No waiting: a request runs as soon as a thread is free, with whatever queued while every thread was busy.
    /// Under light load that adds nothing to latency; under heavy load batches form by themselves. A delay buys
    /// bigger batches at the price of that much latency for every request, so it is opt-in.
    public static let `default` = BatchingPolicy(uncheckedMaxBatchSize: 32, maxDelayMicros: 0)

    public init(maxBatchSize: Int, maxDelayMicros: Int) throws(HedgerowError) {
        guard maxBatchSize >= 1 else {
            throw HedgerowError(.invalidConfiguration, "batching.maxBatchSize must be ≥ 1, got \(maxBatchSize)")
        }
        guard maxDelayMicros >= 0 else {
            throw HedgerowError(.invalidConfiguration, "batching.maxDelayMicros must be ≥ 0, got \(maxDelayMicros)")
        }
        self.init(uncheckedMaxBatchSize: maxBatchSize, maxDelayMicros: maxDelayMicros)
    }

    /// Decoding validates like `init(maxBatchSize:maxDelayMicros:)`: a worker never runs with a policy that init
    /// would refuse.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(maxBatchSize: c.decode(Int.self, forKey: .maxBatchSize), maxDelayMicros: c.decode(Int.self, forKey: .maxDelayMicros))
    }

    private init(uncheckedMaxBatchSize: Int, maxDelayMicros: Int) {
        self.maxBatchSize = uncheckedMaxBatchSize
        self.maxDelayMicros = maxDelayMicros
    }
}
