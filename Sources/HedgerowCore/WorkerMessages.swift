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
    /// The part of a sharded model this version is, as loaded (an entry with the shard addresses in force).
    public var part: ShardedPart?

    public init(
        model: String, version: Int, state: ModelVersionState, error: String? = nil, memoryBytes: Int = 0,
        inferenceCount: Int = 0, batching: BatchingPolicy? = nil, requestedBatching: BatchingPolicy? = nil, part: ShardedPart? = nil
    ) {
        self.part = part
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
    /// True: the version must have a `reference.json` (golden outputs) to serve. Absent means false.
    public var requireReference: Bool?
    /// The version is one part of a sharded model (`ShardingPolicy`): what to load, and for an entry where its
    /// shards are. Sent again with new addresses when shard replicas move.
    public var part: ShardedPart?

    public init(batching: BatchingPolicy? = nil, requireReference: Bool? = nil, part: ShardedPart? = nil) {
        self.part = part
        self.batching = batching
        self.requireReference = requireReference
    }
}

/// A JSON error body: `{"error": "..."}`, as every Hedgerow endpoint answers failures.
public struct ErrorBody: Sendable, Codable, Equatable {
    public var error: String
    public init(error: String) { self.error = error }
}

// MARK: Decoding checks
//
// What one process sends another is checked where it is read, as hostile input: a worker name, zone and address
// of 1-255 bytes, memory within `DesiredState.Limits` (the synchronizer shifts megabytes into bytes and sums
// model sizes against them; unbounded values overflowed that arithmetic), non-negative counts. A refusal is a
// `DecodingError` naming the field, which the receiver turns into a 400 or a logged, skipped report.

extension LoadedModelVersion {
    enum CodingKeys: String, CodingKey {
        case model, version, state, error, memoryBytes, inferenceCount, batching, requestedBatching, part
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            model: try c.decode(String.self, forKey: .model), version: try c.decode(Int.self, forKey: .version),
            state: try c.decode(ModelVersionState.self, forKey: .state), error: try c.decodeIfPresent(String.self, forKey: .error),
            memoryBytes: try c.decode(Int.self, forKey: .memoryBytes), inferenceCount: try c.decode(Int.self, forKey: .inferenceCount),
            batching: try c.decodeIfPresent(BatchingPolicy.self, forKey: .batching),
            requestedBatching: try c.decodeIfPresent(BatchingPolicy.self, forKey: .requestedBatching),
            part: try c.decodeIfPresent(ShardedPart.self, forKey: .part)
        )
        guard DesiredState.Limits.modelBytes.contains(memoryBytes) else {
            throw DecodingError.dataCorruptedError(forKey: .memoryBytes, in: c, debugDescription: "memoryBytes must be within \(DesiredState.Limits.modelBytes), got \(memoryBytes)")
        }
        guard inferenceCount >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .inferenceCount, in: c, debugDescription: "inferenceCount must be ≥ 0, got \(inferenceCount)")
        }
    }
}

extension WorkerStateReport {
    enum CodingKeys: String, CodingKey { case name, address, zone, memoryMB, models }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try c.decode(String.self, forKey: .name), address: try c.decode(String.self, forKey: .address),
            zone: try c.decode(String.self, forKey: .zone), memoryMB: try c.decode(Int.self, forKey: .memoryMB),
            models: try c.decode([LoadedModelVersion].self, forKey: .models)
        )
        try WorkerIdentityCheck.check(name: name, address: address, zone: zone, memoryMB: memoryMB, in: c, keys: (.name, .address, .zone, .memoryMB))
    }
}

extension WorkerHeartbeat {
    enum CodingKeys: String, CodingKey { case name, address, zone, memoryMB }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try c.decode(String.self, forKey: .name), address: try c.decode(String.self, forKey: .address),
            zone: try c.decode(String.self, forKey: .zone), memoryMB: try c.decode(Int.self, forKey: .memoryMB)
        )
        try WorkerIdentityCheck.check(name: name, address: address, zone: zone, memoryMB: memoryMB, in: c, keys: (.name, .address, .zone, .memoryMB))
    }
}

/// The fields a heartbeat and a state report share, checked the same way.
enum WorkerIdentityCheck {
    static func check<K: CodingKey>(
        name: String, address: String, zone: String, memoryMB: Int, in c: KeyedDecodingContainer<K>, keys: (K, K, K, K)
    ) throws {
        let length = DesiredState.Limits.nameLength
        for (value, key) in [(name, keys.0), (address, keys.1), (zone, keys.2)] where !length.contains(value.utf8.count) {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(key.stringValue) must be 1-\(length.upperBound) bytes, got \(value.utf8.count)")
        }
        guard RoutingTable.ModelRoutes.isAddress(address) else {
            throw DecodingError.dataCorruptedError(forKey: keys.1, in: c, debugDescription: "address must be HOST:PORT, got '\(address.prefix(300))'")
        }
        // 0 is allowed on the wire: a worker may offer no memory (it then gets no models).
        let memory = 0...DesiredState.Limits.memoryMB.upperBound
        guard memory.contains(memoryMB) else {
            throw DecodingError.dataCorruptedError(forKey: keys.3, in: c, debugDescription: "memoryMB must be within \(memory), got \(memoryMB)")
        }
    }
}

extension LoadRequest {
    enum CodingKeys: String, CodingKey { case batching, requireReference, part }

    /// The batching a load call asks for stays within `DesiredState.Limits` (the desired state cannot ask for
    /// more), so a worker never sizes a batch or a wait from an unbounded number.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(batching: try c.decodeIfPresent(BatchingPolicy.self, forKey: .batching),
                  requireReference: try c.decodeIfPresent(Bool.self, forKey: .requireReference),
                  part: try c.decodeIfPresent(ShardedPart.self, forKey: .part))
        if let batching, !DesiredState.Limits.batchSize.contains(batching.maxBatchSize) || !DesiredState.Limits.delayMicros.contains(batching.maxDelayMicros) {
            throw DecodingError.dataCorruptedError(
                forKey: .batching, in: c,
                debugDescription: "batching must have maxBatchSize in \(DesiredState.Limits.batchSize) and maxDelayMicros in \(DesiredState.Limits.delayMicros)"
            )
        }
    }
}
