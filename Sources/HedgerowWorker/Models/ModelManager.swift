import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import HedgerowRuntime
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOPosix

/// The model versions a worker holds, and the only place that changes them.
///
/// Loads run on their own thread pool, never on the event loops or the inference threads, so loading one model
/// does not stall requests to another. Each version's transitions are decided by its `ModelLifecycle`; this type
/// carries out the actions (start a load, drop a model) and counts references for in-flight requests.
public final class ModelManager: Sendable {
    struct Entry: Sendable {
        var lifecycle = ModelLifecycle()
        var batcher: ModelBatcher?
        var inferenceCount = 0
        /// The desired state's batching for this model, if it sets one; it wins over the version's config.yaml.
        var requestedBatching: BatchingPolicy?
        /// The version's config.yaml batching, once loaded.
        var configBatching: BatchingPolicy?
        /// The desired state asks for a `reference.json`: without one the load fails.
        var requireReference = false
        /// The part of a sharded model this version is, as asked (nil: a whole model).
        var part: ShardedPart?
        /// A PS part's rows, once loaded.
        var shardPart: ShardPart?
        /// A sharded entry's lookups, once loaded.
        var lookups: ShardLookups?

        var batching: BatchingPolicy { requestedBatching ?? configBatching ?? .default }
    }

    public let repository: ModelRepository
    private let entries = NIOLockedValueBox<[ModelVersionID: Entry]>([:])
    private let loadPool: NIOThreadPool
    private let inferencePool: NIOThreadPool
    private let logger: Logger
    /// Fault injection for tests (`--fault-crash-on-load MODEL`): loading any version of this model kills the
    /// process, as a model file that traps the runtime would.
    public let crashOnLoad = NIOLockedValueBox<String?>(nil)
    /// What a sharded entry sends its lookups with.
    let lookupClient: HTTP2ClientPool?

    /// `inferencePool` runs the batches of every version; loads get a thread of their own. `lookupClient` is what
    /// sharded entries reach their shards with (without one, a sharded entry cannot load).
    public init(repository: ModelRepository, inferencePool: NIOThreadPool, lookupClient: HTTP2ClientPool? = nil, logger: Logger) {
        self.lookupClient = lookupClient
        self.repository = repository
        self.inferencePool = inferencePool
        self.logger = logger
        self.loadPool = NIOThreadPool(numberOfThreads: 1)
        self.loadPool.start()
    }

    public func shutdown() async {
        try? await loadPool.shutdownGracefully()
    }

    public enum LoadOutcome: Sendable, Equatable {
        case available
        case loading
    }

    /// Starts loading a version (idempotent). Fails at once if the repository has no such file. `batching`, when
    /// given, replaces the version's batching policy (also for a version already loaded); nil leaves it to the
    /// version's config.yaml.
    @discardableResult
    public func load(_ id: ModelVersionID, batching: BatchingPolicy? = nil, requireReference: Bool = false, part: ShardedPart? = nil) throws(HedgerowError) -> LoadOutcome {
        let file = repository.modelFile(try filesID(id, part: part))
        guard FileManager.default.fileExists(atPath: file) else {
            throw HedgerowError(.notFound, "model repository has no \(part?.model ?? id.model.rawValue) version \(id.version) (looked for \(part?.model ?? id.model.rawValue)/\(id.version)/model.onnx)")
        }
        if part?.role == .entry, lookupClient == nil {
            throw HedgerowError(.invalidConfiguration, "\(id) is a sharded entry, and this worker has no client for lookups")
        }
        let result = entries.withLockedValue { entries -> Result<(ModelLifecycle.Action, ModelVersionState), HedgerowError> in
            if var entry = entries[id] {
                guard entry.part?.content == part?.content else {
                    return .failure(HedgerowError(.conflict, "\(id) is loaded here as \(entry.part.map { "the \($0.role.rawValue) part of '\($0.model)'" } ?? "a whole model"); unload it before loading it as \(part.map { "the \($0.role.rawValue) part of '\($0.model)'" } ?? "a whole model")"))
                }
                entry.part = part
                if let part { entry.lookups?.adopt(part) }
                let action = entry.lifecycle.loadRequested()
                entry.requestedBatching = batching
                entry.requireReference = requireReference
                entry.batcher?.policy = entry.batching
                entries[id] = entry
                return .success((action, entry.lifecycle.state))
            }
            entries[id] = Entry(requestedBatching: batching, requireReference: requireReference, part: part)
            return .success((.startLoad, .loading))
        }
        let (action, state) = try result.get()
        if action == .startLoad { startLoad(id) }
        return state == .available ? .available : .loading
    }

    /// Unloads a version once its in-flight requests finish. Returns false if the worker does not hold it.
    @discardableResult
    public func unload(_ id: ModelVersionID) -> Bool {
        let (held, removed) = entries.withLockedValue { entries -> (Bool, Entry?) in
            guard var entry = entries[id] else { return (false, nil) }
            let action = entry.lifecycle.unloadRequested()
            entries[id] = action == .remove ? nil : entry
            return (true, action == .remove ? entry : nil)
        }
        if let removed {
            logger.info("unloaded", metadata: ["model": "\(id)"])
            freeOffTheServingThreads(removed)
        }
        if held { publishLoadedCount() }
        return held
    }

    /// A loaded model held for one request. Call `release()` exactly once when done with it.
    public struct Lease: Sendable {
        public let id: ModelVersionID
        let batcher: ModelBatcher
        fileprivate let manager: ModelManager

        /// A sharded entry's lookups (nil for a whole model).
        let lookups: ShardLookups?

        public var graph: ModelGraph { batcher.graph }

        public func release() { manager.release(id) }
    }

    /// Takes a reference to an AVAILABLE version; errors name why it cannot serve (404 unknown, 503 loading or
    /// unloading, 500 failed to load).
    public func acquire(_ model: ModelName, _ selector: VersionSelector) throws(HedgerowError) -> Lease {
        let version: ModelVersion
        switch selector {
        case .version(let v): version = v
        case .latest:
            guard let v = latestAvailable(model) else {
                throw HedgerowError(hasAny(model) ? .unavailable : .notFound, hasAny(model) ? "model '\(model)' has no AVAILABLE version on this worker yet" : "model '\(model)' is not loaded on this worker")
            }
            version = v
        case .label(let label):
            throw HedgerowError(.notFound, "labels are resolved by the router; this worker has no label '\(label)' for '\(model)' (ask for /versions/N)")
        }
        let id = ModelVersionID(model: model, version: version)
        let result = entries.withLockedValue { entries -> Result<(ModelBatcher, ShardLookups?), HedgerowError> in
            guard var entry = entries[id] else {
                return .failure(HedgerowError(.notFound, "model '\(model)' version \(version) is not loaded on this worker"))
            }
            if let part = entry.part, part.role == .ps {
                return .failure(HedgerowError(.notFound, "'\(model)' is shard \(part.shard ?? 0) of sharded model '\(part.model)': it answers lookups from entries, not inference (ask '\(part.model)')"))
            }
            guard let batcher = entry.batcher, entry.lifecycle.requestStarted() else {
                switch entry.lifecycle.state {
                case .failed: return .failure(HedgerowError(.internalError, "model '\(model)' version \(version) failed to load: \(entry.lifecycle.error ?? "unknown error")"))
                default: return .failure(HedgerowError(.unavailable, "model '\(model)' version \(version) is \(entry.lifecycle.state.rawValue) on this worker"))
                }
            }
            entry.inferenceCount += 1
            entries[id] = entry
            return .success((batcher, entry.lookups))
        }
        let (batcher, lookups) = try result.get()
        return Lease(id: id, batcher: batcher, manager: self, lookups: lookups)
    }

    /// A PS part held for one lookup. Call `release()` exactly once when done with it.
    public struct PartLease: Sendable {
        public let id: ModelVersionID
        public let part: ShardPart
        fileprivate let manager: ModelManager

        public func release() { manager.release(id) }
    }

    /// Takes a reference to an AVAILABLE PS part: 404 when this worker does not hold it (or holds it as something
    /// else), 503 while it loads or unloads.
    public func acquirePart(_ id: ModelVersionID) throws(HedgerowError) -> PartLease {
        let result = entries.withLockedValue { entries -> Result<ShardPart, HedgerowError> in
            guard var entry = entries[id], entry.part?.role == .ps else {
                return .failure(HedgerowError(.notFound, "PS part '\(id.model)' version \(id.version) is not loaded on this worker"))
            }
            guard let part = entry.shardPart, entry.lifecycle.requestStarted() else {
                return .failure(HedgerowError(.unavailable, "PS part '\(id.model)' version \(id.version) is \(entry.lifecycle.state.rawValue) on this worker"))
            }
            entry.inferenceCount += 1
            entries[id] = entry
            return .success(part)
        }
        return PartLease(id: id, part: try result.get(), manager: self)
    }

    /// The version whose files a part reads: the sharded model's own (`ranker` v1 for `ranker.ps-2` v1).
    private func filesID(_ id: ModelVersionID, part: ShardedPart?) throws(HedgerowError) -> ModelVersionID {
        guard let part else { return id }
        return ModelVersionID(model: try ModelName(part.model), version: id.version)
    }

    fileprivate func release(_ id: ModelVersionID) {
        let removed = entries.withLockedValue { entries -> Entry? in
            guard var entry = entries[id] else { return nil }
            let action = entry.lifecycle.requestFinished()
            entries[id] = action == .remove ? nil : entry
            return action == .remove ? entry : nil
        }
        if let removed { freeOffTheServingThreads(removed) }
    }

    /// Hands the last reference to an unloaded version to the load thread: giving back tens of megabytes of weights
    /// (munmap) must not stall an event loop or an inference thread.
    private func freeOffTheServingThreads(_ entry: Entry) {
        loadPool.submit { _ in withExtendedLifetime(entry) {} }
    }

    public func latestAvailable(_ model: ModelName) -> ModelVersion? {
        entries.withLockedValue { entries in
            entries.filter { $0.key.model == model && $0.value.lifecycle.state == .available }.keys.map(\.version).max()
        }
    }

    /// `hedgerow_worker_models_loaded`: recounted whenever a load ends or an unload starts (the only moments a
    /// version enters or leaves AVAILABLE).
    private func publishLoadedCount() {
        let available = entries.withLockedValue { $0.values.filter { $0.lifecycle.state == .available }.count }
        Gauge(label: MetricNames.workerModelsLoaded).record(available)
    }

    private func hasAny(_ model: ModelName) -> Bool {
        entries.withLockedValue { $0.keys.contains { $0.model == model } }
    }

    /// Versions of one model this worker holds, with states, for the status endpoints.
    public func status(of model: ModelName) -> [(version: ModelVersion, state: ModelVersionState, error: String?, graph: ModelGraph?)] {
        entries.withLockedValue { entries in
            entries.filter { $0.key.model == model }
                .map { ($0.key.version, $0.value.lifecycle.state, $0.value.lifecycle.error, $0.value.batcher?.graph) }
                .sorted { $0.0 < $1.0 }
        }
    }

    /// Every version held, for `GET /admin/state`.
    public func report() -> [LoadedModelVersion] {
        entries.withLockedValue { entries in
            entries.sorted { $0.key < $1.key }.map { id, entry in
                LoadedModelVersion(
                    model: id.model.rawValue, version: id.version.number, state: entry.lifecycle.state,
                    error: entry.lifecycle.error, memoryBytes: entry.shardPart?.bytes ?? entry.batcher?.graph.weightBytes ?? 0,
                    inferenceCount: entry.inferenceCount, batching: entry.batcher?.policy, requestedBatching: entry.requestedBatching,
                    part: entry.part.map { part in
                        var reported = part
                        reported.shardAddresses = entry.lookups?.shardAddresses ?? part.shardAddresses
                        reported.hedging = entry.lookups?.hedging ?? part.hedging
                        return reported
                    }
                )
            }
        }
    }

    /// Loads on the load thread. The file is resolved there and must stay inside its version directory (a link
    /// out fails the load like any other load error: FAILED, reported, retried with backoff by the synchronizer).
    private func startLoad(_ id: ModelVersionID) {
        logger.info("loading", metadata: ["model": "\(id)"])
        loadPool.submit { [self] _ in
            Self.yieldToInference()
            let started = ContinuousClock.now
            var loadError: String?
            var loaded: ModelGraph?
            var shardPart: ShardPart?
            var lookups: ShardLookups?
            var config = ModelConfig()
            let part = entries.withLockedValue { $0[id]?.part }
            do throws(HedgerowError) {
                let files = try filesID(id, part: part)
                let path = try repository.verifiedModelFile(files)
                config = try ModelConfig.load(contentsOf: repository.configFile(files))
                if crashOnLoad.withLockedValue({ $0 }) == id.model.rawValue {
                    logger.critical("fault injection: crashing while loading \(id)")
                    fatalError("fault injection: crash on load")
                }
                switch part {
                case let part? where part.role == .ps:
                    shardPart = try ShardRows.part(modelFile: path, digest: part.digest(version: id.version.number), tables: part.tables,
                                                   shards: part.shards, scheme: part.scheme, shard: part.shard ?? 0)
                case let part?:
                    let entry = try EntryGraph.load(modelFile: path, tables: part.tables, shards: part.shards, scheme: part.scheme)
                    try Self.warmUp(entry.graph)
                    if let client = lookupClient { lookups = ShardLookups(id: id, entry: entry, part: part, client: client) }
                    loaded = entry.graph
                case nil:
                    let graph = try ModelLoader.load(contentsOf: path)
                    logger.info("graph optimized", metadata: ["model": "\(id)", "changes": "\(graph.optimizations.isEmpty ? "none" : graph.optimizations.joined(separator: "; "))"])
                    let required = entries.withLockedValue { $0[id]?.requireReference ?? false }
                    try checkGoldenOutputs(graph, id, required: required)
                    loaded = graph
                }
            } catch {
                loadError = error.message
            }
            let action = entries.withLockedValue { entries -> ModelLifecycle.Action in
                guard var entry = entries[id] else { return .none }
                entry.configBatching = config.batching
                entry.batcher = loaded.map { ModelBatcher(id: id, graph: $0, policy: entry.batching, pool: inferencePool) }
                entry.shardPart = shardPart
                entry.lookups = lookups
                // Addresses sent while it loaded are the newest.
                if let part = entry.part { lookups?.adopt(part) }
                let action = entry.lifecycle.loadFinished(error: loadError)
                entries[id] = action == .remove ? nil : entry
                return action
            }
            if let loadError {
                logger.error("load failed", metadata: ["model": "\(id)", "error": "\(loadError)"])
            } else {
                let took = ContinuousClock.now - started
                Metrics.Timer(label: MetricNames.workerLoadDuration, dimensions: [("model", id.model.rawValue)]).recordNanoseconds(took.nanoseconds)
                // Exported at 0 from now on, so that the first shed request shows as an increase (a series that
                // appears at 1 is invisible to increase() and rate()).
                _ = Counter(label: MetricNames.workerShed, dimensions: [("model", id.model.rawValue)])
                logger.info("available", metadata: ["model": "\(id)", "took": "\(took)", "dropped": "\(action == .remove)"])
            }
            publishLoadedCount()
        }
    }

    /// Lowers the load thread's scheduling priority (nice 10), so that parsing and warming up a model takes the
    /// CPU only when the inference threads leave it: loading B must not raise A's tail latency.
    static func yieldToInference() {
        #if os(Linux)
        // On Linux the nice value is per thread, and `who` 0 names the calling thread.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        #endif
    }

    /// One inference on zeros with every dynamic dimension 1, so the first real request does not pay for
    /// first-touch costs, and a model that cannot run fails its load instead of its first request.
    /// The golden-output gate, which is also the warm-up: with a `reference.json`, the version must answer its
    /// inputs as the file says (the whole batch three times, then the first row alone) or the load fails and the
    /// version never serves; without one, it is warmed up on zeros and a warning is logged.
    private func checkGoldenOutputs(_ graph: ModelGraph, _ id: ModelVersionID, required: Bool) throws(HedgerowError) {
        let started = ContinuousClock.now
        let dimensions = [("model", id.model.rawValue), ("version", String(id.version.number))]
        func count(_ result: String) {
            Counter(label: MetricNames.workerValidations, dimensions: dimensions + [("result", result)]).increment()
            Metrics.Timer(label: MetricNames.workerValidationDuration, dimensions: [("model", id.model.rawValue)])
                .recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        }
        guard let path = try repository.verifiedReferenceFile(id) else {
            if required {
                count("failed")
                throw HedgerowError(.loadFailed, "no reference.json in \(id.model)/\(id.version)/, and the desired state requires one (validation: { required: true })")
            }
            logger.warning("no reference.json: serving without a golden-output check", metadata: ["model": "\(id)"])
            count("skipped")
            try Self.warmUp(graph)
            return
        }
        do throws(HedgerowError) {
            let golden = try GoldenOutputs.load(contentsOf: path, for: graph)
            for cases in [golden, golden, golden] + [golden.firstRow()].compactMap({ $0 }) {
                let results: [String: Tensor]
                do { results = try graph.run(cases.inputs) } catch {
                    throw HedgerowError(.loadFailed, "running reference.json's inputs failed: \(error.message)")
                }
                if let problem = cases.disagreement(with: results) {
                    let batch = cases.inputs.values.first?.shape.first ?? 0
                    throw HedgerowError(.loadFailed, "golden-output check failed (reference.json, batch of \(batch)): \(problem)")
                }
            }
        } catch {
            count("failed")
            throw error
        }
        count("passed")
        logger.info("golden-output check passed", metadata: ["model": "\(id)", "took": "\(ContinuousClock.now - started)"])
    }

    /// Runs the graph once on zeros (empty strings for text inputs). A model may refuse those as a request
    /// (a category encoder exported to refuse unknown categories refuses ""): that 400 is what a client would get,
    /// not a broken model, so it does not fail the load. Any other failure does.
    static func warmUp(_ graph: ModelGraph) throws(HedgerowError) {
        var feeds: [String: Tensor] = [:]
        for input in graph.inputs + graph.suppliedInputs {
            feeds[input.name] = Tensor.zeros(input.elementType, shape: input.shape.map { $0 ?? 1 })
        }
        do { _ = try graph.run(feeds) } catch {
            if error.kind == .badRequest && graph.inputs.contains(where: { $0.elementType == .string }) { return }
            throw HedgerowError(.loadFailed, "warm-up inference failed: \(error.message)")
        }
    }
}
