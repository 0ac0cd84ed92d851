/// The desired state a user writes in `desired-state.yaml`, after validation. Parsing (with file:line errors)
/// lives in the synchronizer; this is the checked value every role can share.
public struct DesiredState: Sendable, Equatable {
    /// Absolute path of the model repository (`<repository>/<model>/<version>/model.onnx`).
    public var repository: String
    public var workers: [StaticWorker]
    public var models: [ModelSpec]

    public init(repository: String, workers: [StaticWorker], models: [ModelSpec]) {
        self.repository = repository
        self.workers = workers
        self.models = models
    }

    /// Ranges every number of the desired state, the routing table and the worker messages must fall in.
    ///
    /// Why bounds at all: these numbers reach arithmetic elsewhere (delays become nanoseconds, megabytes become
    /// bytes, replica counts become loops), and a value in range here keeps every such product within `Int`.
    /// Each bound is far above any real deployment.
    public enum Limits {
        /// Replicas of one model version.
        public static let replicas = 1...1000
        /// Memory a worker offers, MiB (16 TiB).
        public static let memoryMB = 1...(1 << 24)
        /// Bytes one loaded model version holds (1 PiB).
        public static let modelBytes = 0...(1 << 50)
        /// Hedge delays and deadlines, milliseconds (one day).
        public static let milliseconds = 0...86_400_000
        /// Rows in one batch.
        public static let batchSize = 1...1_000_000
        /// Longest wait for a batch to fill, microseconds (one minute).
        public static let delayMicros = 0...60_000_000
        /// `versions: { latest: N }`.
        public static let latestVersions = 1...1000
        /// A version number as the repository spells it (at most 18 digits).
        public static let version = 1...999_999_999_999_999_999
        /// Characters in a worker name, zone or address.
        public static let nameLength = 1...255
    }

    /// A worker listed in the file (it may also register itself by heartbeat).
    public struct StaticWorker: Sendable, Equatable, Hashable {
        public var name: String
        public var address: String
        public var zone: String
        public var memoryMB: Int

        public init(name: String, address: String, zone: String, memoryMB: Int) {
            self.name = name
            self.address = address
            self.zone = zone
            self.memoryMB = memoryMB
        }
    }

    public enum VersionPolicy: Sendable, Equatable {
        /// The newest N versions found in the repository.
        case latest(Int)
        case specific([ModelVersion])
    }

    public enum Placement: Sendable, Equatable {
        /// Any workers, fewest models first.
        case any
        /// Replicas spread across distinct zones where possible.
        case spreadByZone
        /// Only these workers, by name.
        case pinned([String])
    }

    public struct ModelSpec: Sendable, Equatable {
        public var name: ModelName
        public var versions: VersionPolicy
        public var labels: [String: ModelVersion]
        public var replicas: Int
        public var placement: Placement
        public var hedging: HedgingPolicy
        /// Nil when neither the model nor `defaults` sets it: each version's config.yaml decides, else the default.
        public var batching: BatchingPolicy?
        /// `validation: { required: true }`: a version without `reference.json` fails its load instead of serving
        /// unchecked.
        public var requireReference: Bool
        /// Sampled inference logs written by routers; nil when neither the model nor `defaults` asks for them.
        public var logging: InferenceLogPolicy?
        /// The version answering `splitPercent` of requests that name no version, instead of the stable one.
        public var canary: CanaryPolicy?
        /// Embedding tables served from parameter-server shards; `replicas` then counts entry replicas.
        public var sharding: ShardingPolicy?

        public init(
            name: ModelName, versions: VersionPolicy, labels: [String: ModelVersion], replicas: Int,
            placement: Placement, hedging: HedgingPolicy, batching: BatchingPolicy?, requireReference: Bool = false,
            logging: InferenceLogPolicy? = nil, canary: CanaryPolicy? = nil, sharding: ShardingPolicy? = nil
        ) {
            self.sharding = sharding
            self.name = name
            self.versions = versions
            self.labels = labels
            self.replicas = replicas
            self.placement = placement
            self.hedging = hedging
            self.batching = batching
            self.requireReference = requireReference
            self.logging = logging
            self.canary = canary
        }
    }
}

/// `GET /v1/state` on the synchronizer: what `hedgerow status` prints.
public struct SynchronizerStateReport: Sendable, Codable, Equatable {
    public struct Replica: Sendable, Codable, Equatable {
        public var worker: String
        public var address: String
        public var state: String
        public var error: String?
        public init(worker: String, address: String, state: String, error: String?) {
            self.worker = worker
            self.address = address
            self.state = state
            self.error = error
        }
    }

    public struct VersionStatus: Sendable, Codable, Equatable {
        public var model: String
        public var version: Int
        public var desiredReplicas: Int
        public var readyReplicas: Int
        public var replicas: [Replica]
        /// Why the planner could not place every replica, if it could not.
        public var problem: String?
        /// For a part of a sharded model: "entry" or "ps K/N" (absent for whole models and from older reports).
        public var part: String?
        /// What one replica costs: measured by a worker, else estimated from the files (sharded models only).
        public var memoryBytes: Int?
        public init(model: String, version: Int, desiredReplicas: Int, readyReplicas: Int, replicas: [Replica], problem: String?, part: String? = nil, memoryBytes: Int? = nil) {
            self.part = part
            self.memoryBytes = memoryBytes
            self.model = model
            self.version = version
            self.desiredReplicas = desiredReplicas
            self.readyReplicas = readyReplicas
            self.replicas = replicas
            self.problem = problem
        }
    }

    public struct WorkerStatus: Sendable, Codable, Equatable {
        public var name: String
        public var address: String
        public var zone: String
        public var alive: Bool
        public init(name: String, address: String, zone: String, alive: Bool) {
            self.name = name
            self.address = address
            self.zone = zone
            self.alive = alive
        }
    }

    public var configFile: String
    public var configHash: String?
    public var configAppliedAt: String?
    /// The last refused edit and why (kept after a later valid edit), and when.
    public var lastConfigError: String?
    public var lastConfigErrorAt: String?
    /// The file on disk is refused: the state in force is the one applied at `configAppliedAt`.
    public var configFileRefused: Bool
    public var generation: Int
    public var workers: [WorkerStatus]
    public var versions: [VersionStatus]
    /// Versions kept off every worker because loading them took a worker down (absent from older reports).
    public var poisoned: [PoisonedVersionStatus]?
    /// Canaries in the desired state, with the routers' summed comparisons (absent from older reports).
    public var canaries: [CanaryStatus]?

    public init(
        configFile: String, configHash: String?, configAppliedAt: String?, lastConfigError: String?, lastConfigErrorAt: String? = nil,
        configFileRefused: Bool = false, generation: Int, workers: [WorkerStatus], versions: [VersionStatus],
        poisoned: [PoisonedVersionStatus]? = nil, canaries: [CanaryStatus]? = nil
    ) {
        self.canaries = canaries
        self.poisoned = poisoned
        self.lastConfigErrorAt = lastConfigErrorAt
        self.configFileRefused = configFileRefused
        self.configFile = configFile
        self.configHash = configHash
        self.configAppliedAt = configAppliedAt
        self.lastConfigError = lastConfigError
        self.generation = generation
        self.workers = workers
        self.versions = versions
    }
}
