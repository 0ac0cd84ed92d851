import HedgerowHTTP

/// Everything a synchronizer needs to run, filled by the CLI from flags.
public struct SynchronizerConfiguration: Sendable {
    public var listen: HTTPServerConfiguration
    /// The desired-state YAML file.
    public var desiredStateFile: String
    /// Bearer token for the workers' admin API.
    public var adminToken: String?
    /// How often the file, the workers and the plan are looked at, seconds.
    public var reconcileIntervalSeconds: Double
    /// How often workers heartbeat, seconds (their `--heartbeat-interval` must agree). A worker silent — no
    /// heartbeat, no answer to the synchronizer — for 3 intervals is dead.
    public var heartbeatIntervalSeconds: Double
    public var workerDeadAfterSeconds: Double { 3 * heartbeatIntervalSeconds }
    /// After a start, how long the synchronizer listens before its first plan and table: every live worker has
    /// heartbeated by then, so a restart neither drops routes to registered workers nor reloads what they hold.
    public var startupGraceSeconds: Double { 1.5 * heartbeatIntervalSeconds }
    /// How long a replica stays loaded after leaving the routes, so routers and in-flight requests move off it.
    public var drainSeconds: Double
    /// Replicas LOADING at once on one worker; further loads wait their turn.
    public var maxLoadsPerWorker: Int

    public init(
        listen: HTTPServerConfiguration, desiredStateFile: String, adminToken: String?, reconcileIntervalSeconds: Double = 0.5,
        heartbeatIntervalSeconds: Double = 1, drainSeconds: Double = 2, maxLoadsPerWorker: Int = 2
    ) {
        self.maxLoadsPerWorker = maxLoadsPerWorker
        self.listen = listen
        self.desiredStateFile = desiredStateFile
        self.adminToken = adminToken
        self.reconcileIntervalSeconds = reconcileIntervalSeconds
        self.heartbeatIntervalSeconds = heartbeatIntervalSeconds
        self.drainSeconds = drainSeconds
    }
}
