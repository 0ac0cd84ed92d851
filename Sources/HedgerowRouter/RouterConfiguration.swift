import HedgerowHTTP

/// Everything a router needs to run, filled by the CLI from flags.
public struct RouterConfiguration: Sendable {
    public var listen: HTTPServerConfiguration
    /// Synchronizer address (`host:port`) to long-poll routes from.
    public var synchronizer: String
    /// Where the last routing table is kept, so a restarted router serves before the synchronizer answers.
    public var routesCacheFile: String?
    /// Deadline of a request that carries no `Hedgerow-Timeout-Ms`, milliseconds.
    public var defaultTimeoutMs: Int
    /// Inference requests in flight per model before new ones are refused with 503 and `Retry-After`.
    public var maxInFlightPerModel: Int
    /// When a replica is ejected and for how long (see `OutlierDetector`).
    public var outliers: OutlierDetector.Settings
    public var balancing: UpstreamPool.Balancing
    /// How long a suspected query of death is refused (see `PoisonQuarantine`).
    public var quarantine: PoisonQuarantine.Settings
    /// Where sampled inference logs go (each model's `logging.path` is relative to it), and how they rotate.
    public var inferenceLog: InferenceLogWriter.Settings
    /// Bearer token for the synchronizer's calls that change state (canary reports); the synchronizer's
    /// `--admin-token-file`, when it has one.
    public var adminToken: String?

    public init(
        listen: HTTPServerConfiguration, synchronizer: String, routesCacheFile: String? = nil, defaultTimeoutMs: Int = 30_000,
        maxInFlightPerModel: Int = 1024, outliers: OutlierDetector.Settings = .init(), balancing: UpstreamPool.Balancing = .peakEWMA,
        quarantine: PoisonQuarantine.Settings = .init(), inferenceLog: InferenceLogWriter.Settings = .init(directory: "inference-logs"),
        adminToken: String? = nil
    ) {
        self.adminToken = adminToken
        self.inferenceLog = inferenceLog
        self.quarantine = quarantine
        self.balancing = balancing
        self.listen = listen
        self.synchronizer = synchronizer
        self.routesCacheFile = routesCacheFile
        self.defaultTimeoutMs = defaultTimeoutMs
        self.maxInFlightPerModel = maxInFlightPerModel
        self.outliers = outliers
    }
}
