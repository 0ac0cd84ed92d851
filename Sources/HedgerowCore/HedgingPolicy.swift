/// When a router sends a backup request, per model. Validated at construction.
///
/// The hedge delay is the `percentile` of the model's recent latencies clamped to `[minDelayMs, maxDelayMs]`;
/// until enough samples exist the router uses `maxDelayMs`. `budgetPercent` caps hedges and retries together as a
/// share of the model's request rate; `0` turns hedging off (retries after connection failures stay).
public struct HedgingPolicy: Hashable, Sendable, Codable {
    /// Latency percentile (0 < p < 100) used as the hedge delay.
    public var percentile: Double
    /// Extra attempts allowed, as a percent of requests (0 disables hedging).
    public var budgetPercent: Double
    /// Lower bound of the hedge delay, milliseconds.
    public var minDelayMs: Int
    /// Upper bound of the hedge delay and the delay used before enough samples exist, milliseconds.
    public var maxDelayMs: Int

    public static let `default` = HedgingPolicy(uncheckedPercentile: 95, budgetPercent: 5, minDelayMs: 1, maxDelayMs: 1000)

    public init(percentile: Double, budgetPercent: Double, minDelayMs: Int, maxDelayMs: Int) throws(HedgerowError) {
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
        self.init(uncheckedPercentile: percentile, budgetPercent: budgetPercent, minDelayMs: minDelayMs, maxDelayMs: maxDelayMs)
    }

    private init(uncheckedPercentile: Double, budgetPercent: Double, minDelayMs: Int, maxDelayMs: Int) {
        self.percentile = uncheckedPercentile
        self.budgetPercent = budgetPercent
        self.minDelayMs = minDelayMs
        self.maxDelayMs = maxDelayMs
    }

    public var isEnabled: Bool { budgetPercent > 0 }
}

/// How a worker merges concurrent requests of one model version into one run.
public struct BatchingPolicy: Hashable, Sendable, Codable {
    /// Most rows run together.
    public var maxBatchSize: Int
    /// Longest a request waits for others to join its batch, microseconds.
    public var maxDelayMicros: Int

    public static let `default` = BatchingPolicy(uncheckedMaxBatchSize: 32, maxDelayMicros: 500)

    public init(maxBatchSize: Int, maxDelayMicros: Int) throws(HedgerowError) {
        guard maxBatchSize >= 1 else {
            throw HedgerowError(.invalidConfiguration, "batching.maxBatchSize must be ≥ 1, got \(maxBatchSize)")
        }
        guard maxDelayMicros >= 0 else {
            throw HedgerowError(.invalidConfiguration, "batching.maxDelayMicros must be ≥ 0, got \(maxDelayMicros)")
        }
        self.init(uncheckedMaxBatchSize: maxBatchSize, maxDelayMicros: maxDelayMicros)
    }

    private init(uncheckedMaxBatchSize: Int, maxDelayMicros: Int) {
        self.maxBatchSize = uncheckedMaxBatchSize
        self.maxDelayMicros = maxDelayMicros
    }
}
