/// The load state of one model version on one worker, as `GET /admin/state` reports it.
public enum ModelVersionState: String, Sendable, Codable, Hashable {
    case loading = "LOADING"
    case available = "AVAILABLE"
    case unloading = "UNLOADING"
    case failed = "FAILED"
}

/// One model version on a worker.
public struct LoadedModelVersion: Sendable, Codable, Equatable {
    public var model: String
    public var version: Int
    public var state: ModelVersionState
    public var error: String?
    public var memoryBytes: Int
    public var inferenceCount: Int
    /// The batching policy in force, once loaded (the desired state's, else the version's config.yaml, else the
    /// default).
    public var batching: BatchingPolicy?
    /// The batching the desired state asked for, if any (what the synchronizer compares with its own).
    public var requestedBatching: BatchingPolicy?

    public init(
        model: String, version: Int, state: ModelVersionState, error: String? = nil, memoryBytes: Int = 0,
        inferenceCount: Int = 0, batching: BatchingPolicy? = nil, requestedBatching: BatchingPolicy? = nil
    ) {
        self.model = model
        self.version = version
        self.state = state
        self.error = error
        self.memoryBytes = memoryBytes
        self.inferenceCount = inferenceCount
        self.batching = batching
        self.requestedBatching = requestedBatching
    }

    /// The model version as a validated id; nil when a worker reported a name or number that is not one.
    public var id: ModelVersionID? {
        guard let name = try? ModelName(model), let number = try? ModelVersion(version) else { return nil }
        return ModelVersionID(model: name, version: number)
    }
}

/// `GET /admin/state`: who the worker is and what it holds.
public struct WorkerStateReport: Sendable, Codable, Equatable {
    public var name: String
    public var address: String
    public var zone: String
    public var memoryMB: Int
    public var models: [LoadedModelVersion]

    public init(name: String, address: String, zone: String, memoryMB: Int, models: [LoadedModelVersion]) {
        self.name = name
        self.address = address
        self.zone = zone
        self.memoryMB = memoryMB
        self.models = models
    }
}

/// `POST /v1/workers/heartbeat`: a worker announcing itself to the synchronizer. Sent every heartbeat interval.
public struct WorkerHeartbeat: Sendable, Codable, Equatable {
    public var name: String
    /// `host:port` where the worker answers inference and admin requests.
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

/// `PUT /admin/models/{m}/versions/{v}` body (optional): settings the desired state gives this version.
public struct LoadRequest: Sendable, Codable, Equatable {
    /// Absent: the version's config.yaml decides, else the default.
    public var batching: BatchingPolicy?

    public init(batching: BatchingPolicy? = nil) {
        self.batching = batching
    }
}

/// A JSON error body: `{"error": "..."}`, as every Hedgerow endpoint answers failures.
public struct ErrorBody: Sendable, Codable, Equatable {
    public var error: String
    public init(error: String) { self.error = error }
}
