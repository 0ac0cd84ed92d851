import HedgerowCore
import HedgerowHTTP

/// Everything a worker needs to run, filled by the CLI from flags.
public struct WorkerConfiguration: Sendable {
    /// Unique name among workers (the synchronizer's key for it).
    public var name: String
    public var listen: HTTPServerConfiguration
    /// `host:port` others use to reach this worker (defaults to the listen address).
    public var advertisedAddress: String
    public var zone: String
    /// Memory this worker offers for models, in MiB (reported to the synchronizer for placement).
    public var memoryMB: Int
    /// Root of the model repository: `<repository>/<model>/<version>/model.onnx`.
    public var repository: String
    /// Synchronizer base address (`host:port`) to register with by heartbeat, if any.
    public var synchronizer: String?
    public var heartbeatIntervalSeconds: Double
    /// Bearer token required by `/admin/*`. Without one the admin API answers 401 to every call.
    public var adminToken: String?
    /// Threads that run inference (never the event loops).
    public var inferenceThreads: Int
    /// Admission control: an inference request is refused with 503 when requests wait longer than this for an
    /// inference thread (see `QueueDelayGate`); 0 turns it off.
    public var maxQueueDelayMs: Int = 100
    /// Fault injection for tests and benchmarks: delay this share of inference requests (0-100)…
    public var faultDelayPercent: Double = 0
    /// …by this long, before they are queued (as a stalled replica would).
    public var faultDelayMs: Int = 0
    /// Fault injection for query-of-death tests: crash the process on an inference request whose body contains
    /// this text.
    public var faultCrashOnBody: String?
    /// Fault injection for poisoned-version tests: crash the process while loading any version of this model.
    public var faultCrashOnLoad: String?

    public init(
        name: String, listen: HTTPServerConfiguration, advertisedAddress: String? = nil, zone: String = "default",
        memoryMB: Int = 2048, repository: String, synchronizer: String? = nil, heartbeatIntervalSeconds: Double = 1,
        adminToken: String? = nil, inferenceThreads: Int = 2
    ) {
        self.name = name
        self.listen = listen
        self.advertisedAddress = advertisedAddress ?? "\(listen.host):\(listen.port)"
        self.zone = zone
        self.memoryMB = memoryMB
        self.repository = repository
        self.synchronizer = synchronizer
        self.heartbeatIntervalSeconds = heartbeatIntervalSeconds
        self.adminToken = adminToken
        self.inferenceThreads = inferenceThreads
    }
}
