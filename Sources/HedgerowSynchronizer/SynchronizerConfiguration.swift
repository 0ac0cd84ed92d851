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
    /// A worker silent (no heartbeat, no answer) this long is dead, seconds: 3 heartbeat intervals by default.
    public var workerDeadAfterSeconds: Double
    /// How long a replica stays loaded after leaving the routes, so routers and in-flight requests move off it.
    public var drainSeconds: Double
    /// Replicas LOADING at once on one worker; further loads wait their turn.
    public var maxLoadsPerWorker: Int

    public init(
        listen: HTTPServerConfiguration, desiredStateFile: String, adminToken: String?, reconcileIntervalSeconds: Double = 0.5,
        workerDeadAfterSeconds: Double = 3, drainSeconds: Double = 2, maxLoadsPerWorker: Int = 2
    ) {
        self.maxLoadsPerWorker = maxLoadsPerWorker
        self.listen = listen
        self.desiredStateFile = desiredStateFile
        self.adminToken = adminToken
        self.reconcileIntervalSeconds = reconcileIntervalSeconds
        self.workerDeadAfterSeconds = workerDeadAfterSeconds
        self.drainSeconds = drainSeconds
    }
}
