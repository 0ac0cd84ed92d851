import HedgerowCore

/// From the plan and what workers report, decides the admin calls to make and the routes to publish.
/// Pure: time is a parameter, and what must be remembered between rounds (`retiredAt`, `lastLoad`) is passed in
/// and out.
///
/// Make-before-break: a replica that is loaded but no longer planned stays in the routes until every planned
/// replica of its model is AVAILABLE; then it leaves the routes, and is unloaded `drainSeconds` later (routers
/// have the new table by then, and the worker itself waits for in-flight requests). Nothing is ever unloaded
/// because the desired state changed before its replacement was ready. A model removed from the desired state
/// has no replacement: it leaves the routes at once and is unloaded `drainSeconds` later.
///
/// Loads are bounded: at most `maxLoadsPerWorker` replicas LOADING on one worker at a time (a big rollout queues
/// instead of starving inference), taken in model-version order. A FAILED load is retried after `retrySeconds`,
/// doubling with each failure in a row up to `maxRetrySeconds`; meanwhile the previous version keeps serving.
///
/// A version AVAILABLE nowhere loads on one worker first (a probe): its other replicas load once that one is
/// AVAILABLE, and a worker runs one probe at a time. A model file that crashes the worker loading it then takes
/// down one worker, not every replica at once, and the death is pinned on it alone (`PoisonedVersions` then keeps
/// it off the others).
///
/// Sharded versions (`ShardedVersion`) add three rules. Shards first: an entry loads once every shard has a
/// replica AVAILABLE. Ready means whole: an entry replica is routable only while every shard has a replica
/// AVAILABLE among the addresses it was given; when the AVAILABLE replicas of a shard change, entries are sent the
/// new addresses (`Output.parts`). Old shards last: a shard version no longer planned stays loaded while any entry
/// of that version is AVAILABLE, so a rollout drains the old entries before it unloads the rows they read.
public enum Reconciler {
    public struct ReplicaKey: Hashable, Sendable {
        public var worker: String
        public var id: ModelVersionID
        public init(worker: String, id: ModelVersionID) {
            self.worker = worker
            self.id = id
        }
    }

    public struct Memory: Sendable, Equatable {
        /// When a replica left the routes (its unload is due `drainSeconds` later).
        public var retiredAt: [ReplicaKey: Double] = [:]
        /// When a load was last sent (failed loads are retried after a backoff).
        public var lastLoad: [ReplicaKey: Double] = [:]
        /// Loads of a replica that failed in a row (the backoff's exponent); gone once it is AVAILABLE.
        public var failedLoads: [ReplicaKey: Int] = [:]
        public init() {}
    }

    public struct Input: Sendable {
        public var models: [DesiredState.ModelSpec]
        public var plan: PlacementPlanner.Plan
        /// Live workers' reports by worker name.
        public var observed: [String: WorkerStateReport]
        public var now: Double
        public var drainSeconds: Double
        public var retrySeconds: Double
        public var maxRetrySeconds: Double
        public var maxLoadsPerWorker: Int
        /// Versions not to load anywhere this round (their last load is in question: see `PoisonedVersions`).
        public var held: Set<ModelVersionID>
        /// Sharded versions of the plan, by their parts.
        var sharded = ShardedVersions()

        public init(
            models: [DesiredState.ModelSpec], plan: PlacementPlanner.Plan, observed: [String: WorkerStateReport], now: Double,
            drainSeconds: Double = 2, retrySeconds: Double = 5, maxRetrySeconds: Double = 120, maxLoadsPerWorker: Int = 2,
            held: Set<ModelVersionID> = []
        ) {
            self.held = held
            self.models = models
            self.plan = plan
            self.observed = observed
            self.now = now
            self.drainSeconds = drainSeconds
            self.retrySeconds = retrySeconds
            self.maxRetrySeconds = maxRetrySeconds
            self.maxLoadsPerWorker = maxLoadsPerWorker
        }
    }

    public struct Output: Sendable {
        public var loads: [ReplicaKey] = []
        /// AVAILABLE replicas whose batching is not what the desired state says: the load call is sent again, which
        /// only changes the settings of a loaded version.
        public var settings: [ReplicaKey] = []
        public var unloads: [ReplicaKey] = []
        public var routes: [String: RoutingTable.ModelRoutes] = [:]
        public var memory = Memory()
        /// What each load or settings call of a part sends (`LoadRequest.part`), an entry's with its shards'
        /// addresses.
        public var parts: [ReplicaKey: ShardedPart] = [:]
    }

    public static func reconcile(_ input: Input, memory: Memory) -> Output {
        var output = Output()
        output.memory.lastLoad = memory.lastLoad
        var state: [ReplicaKey: ModelVersionState] = [:]
        var requestedBatching: [ReplicaKey: BatchingPolicy] = [:]
        var reportedParts: [ReplicaKey: ShardedPart] = [:]
        for (worker, report) in input.observed {
            for m in report.models {
                guard let id = m.id else { continue }
                state[ReplicaKey(worker: worker, id: id)] = m.state
                requestedBatching[ReplicaKey(worker: worker, id: id)] = m.requestedBatching
                reportedParts[ReplicaKey(worker: worker, id: id)] = m.part
            }
        }
        let sharded = input.sharded
        var availableAt: [ModelVersionID: [String]] = [:]
        for (key, replicaState) in state where replicaState == .available {
            availableAt[key.id, default: []].append(input.observed[key.worker]?.address ?? key.worker)
        }
        /// Each sharded version's shards' AVAILABLE replicas, by entry: what its lookups may use.
        let shardAddresses = sharded.byEntry.mapValues { version in
            (0..<version.policy.shards).map { shard in version.partID(shard).map { (availableAt[$0] ?? []).sorted() } ?? [] }
        }
        let specs = Dictionary(input.models.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // Loads for planned replicas that are missing (or failed, after a backoff), within each worker's bound.
        var loading: [String: Int] = [:]
        for (key, replicaState) in state where replicaState == .loading { loading[key.worker, default: 0] += 1 }
        output.memory.failedLoads = memory.failedLoads.filter { state[$0.key] != .available }
        // Versions that serve nowhere yet: how many of their replicas are loading (at most one at a time).
        var probing: [ModelVersionID: Int] = [:]
        var probesOn: [String: Int] = [:]
        for (key, replicaState) in state where replicaState == .available { probing[key.id] = -1 }
        for (key, replicaState) in state where replicaState == .loading && probing[key.id] != -1 {
            probing[key.id, default: 0] += 1
            probesOn[key.worker, default: 0] += 1
        }
        for (id, workers) in input.plan.assignments.sorted(by: { $0.key < $1.key }) {
            for worker in workers where input.observed[worker] != nil {
                let key = ReplicaKey(worker: worker, id: id)
                let due: Bool
                switch state[key] {
                case nil, .unloading?:
                    due = true
                case .failed?:
                    let failures = output.memory.failedLoads[key] ?? 0
                    let wait = min(input.retrySeconds * Double(1 << min(failures, 20)), input.maxRetrySeconds)
                    due = input.now - (memory.lastLoad[key] ?? -.infinity) >= wait
                case .available?:
                    if let spec = specs[id.model], requestedBatching[key] != spec.batching { output.settings.append(key) }
                    if let addresses = shardAddresses[id], reportedParts[key]?.shardAddresses != addresses || (reportedParts[key]?.hedging ?? .default) != (specs[id.model]?.hedging ?? .default),
                       !output.settings.contains(key) {
                        output.settings.append(key)
                    }
                    due = false
                case .loading?:
                    due = false
                }
                // Shards first: an entry without a shard to ask could only fail.
                if shardAddresses[id]?.contains(where: \.isEmpty) == true { continue }
                let isProbe = probing[id, default: 0] >= 0
                guard due, !input.held.contains(id), loading[worker, default: 0] < input.maxLoadsPerWorker, !isProbe || (probing[id, default: 0] == 0 && probesOn[worker, default: 0] == 0) else {
                    continue
                }
                if isProbe {
                    probing[id] = 1
                    probesOn[worker, default: 0] += 1
                }
                if state[key] == .failed { output.memory.failedLoads[key, default: 0] += 1 }
                loading[worker, default: 0] += 1
                output.loads.append(key)
                output.memory.lastLoad[key] = input.now
            }
        }
        // A model is settled when every planned replica of every planned version is AVAILABLE.
        var settled: [ModelName: Bool] = [:]
        for (id, workers) in input.plan.assignments {
            let ready = workers.allSatisfy { state[ReplicaKey(worker: $0, id: id)] == .available }
            settled[id.model] = (settled[id.model] ?? true) && ready && !workers.isEmpty
        }
        var routable: [ModelVersionID: [String]] = [:]
        for (key, replicaState) in state.sorted(by: { ($0.key.id, $0.key.worker) < ($1.key.id, $1.key.worker) }) {
            let planned = input.plan.assignments[key.id]?.contains(key.worker) ?? false
            let address = input.observed[key.worker]?.address ?? key.worker
            if planned {
                if replicaState == .available && isWhole(key, sharded: sharded, reported: reportedParts[key], availableAt: availableAt) {
                    routable[key.id, default: []].append(address)
                }
                continue
            }
            // Old shards last: rows an AVAILABLE entry of the version may still read stay loaded.
            if let entry = sharded.entry(of: key.id), input.plan.assignments[key.id] == nil, availableAt[entry] != nil {
                continue
            }
            // Not planned: retire it, after its replacements are ready. A model that left the desired state has no
            // replacement to wait for: it drains now (a desired model with nothing planned, its versions poisoned or
            // their files gone, keeps serving what it has).
            let desired = specs[key.id.model] != nil || sharded.partNames.contains(key.id.model)
            if replicaState == .available && desired && settled[key.id.model] != true {
                routable[key.id, default: []].append(address)
                continue
            }
            let since = memory.retiredAt[key] ?? input.now
            if replicaState != .available || input.now - since >= input.drainSeconds {
                if replicaState != .unloading { output.unloads.append(key) }
            } else {
                output.memory.retiredAt[key] = since
            }
        }
        for key in output.loads + output.settings {
            guard var part = sharded.part(of: key.id) else { continue }
            if let addresses = shardAddresses[key.id] {
                part.shardAddresses = addresses
                part.hedging = specs[key.id.model]?.hedging
            }
            output.parts[key] = part
        }
        // PS parts are reached by entries, never routed to.
        for id in routable.keys where sharded.partNames.contains(id.model) { routable[id] = nil }
        output.routes = routes(routable, specs: specs, zones: Dictionary(input.observed.values.map { ($0.address, $0.zone) }, uniquingKeysWith: { a, _ in a }))
        // A desired model with no replica up right now (its only worker just died) stays in the table, empty: the
        // router answers 503 with Retry-After ("retry shortly"), not 404 ("no such model").
        for spec in input.models where output.routes[spec.name.rawValue] == nil {
            output.routes[spec.name.rawValue] = RoutingTable.ModelRoutes(versions: [:], labels: [:], defaultVersion: nil, hedging: spec.hedging, logging: spec.logging)
        }
        return output
    }

    /// Whether a replica can answer on its own: a whole model always; a sharded entry when every shard has an
    /// AVAILABLE replica among the addresses it was given. (PS parts are left out of routes separately: entries
    /// reach them, clients do not.)
    static func isWhole(_ key: ReplicaKey, sharded: ShardedVersions, reported: ShardedPart?, availableAt: [ModelVersionID: [String]]) -> Bool {
        guard let version = sharded.byEntry[key.id] else { return true }
        guard let given = reported?.shardAddresses, given.count == version.policy.shards else { return false }
        return given.enumerated().allSatisfy { shard, addresses in
            guard let part = version.partID(shard), let ready = availableAt[part] else { return false }
            return addresses.contains(where: ready.contains)
        }
    }

    /// The version answering requests that name none: the `stable` label's when it is routable (so adding a
    /// version never makes it live by itself once a model says what is stable), else the highest routable version
    /// that is not the canary, else the highest.
    static func defaultVersion(_ routable: [Int], labels: [String: Int], canary: Int?) -> Int? {
        if let stable = labels["stable"], routable.contains(stable) { return stable }
        return routable.filter { $0 != canary }.max() ?? routable.max()
    }

    private static func routes(
        _ routable: [ModelVersionID: [String]], specs: [ModelName: DesiredState.ModelSpec], zones: [String: String]
    ) -> [String: RoutingTable.ModelRoutes] {
        var result: [String: RoutingTable.ModelRoutes] = [:]
        let byModel = Dictionary(grouping: routable.keys, by: \.model)
        for (model, ids) in byModel {
            let spec = specs[model]
            var versions: [String: [String]] = [:]
            for id in ids { versions[id.version.description] = routable[id]!.sorted() }
            let numbers = ids.map(\.version.number)
            var labels: [String: Int] = [:]
            for (label, version) in spec?.labels ?? [:] where numbers.contains(version.number) { labels[label] = version.number }
            let addresses = Set(versions.values.joined())
            let canary = spec?.canary.flatMap { numbers.contains($0.version) ? $0 : nil }
            result[model.rawValue] = RoutingTable.ModelRoutes(
                versions: versions, labels: labels, defaultVersion: defaultVersion(numbers, labels: labels, canary: spec?.canary?.version),
                hedging: spec?.hedging ?? .default, zones: zones.filter(keys: addresses), logging: spec?.logging, canary: canary
            )
        }
        return result
    }
}

private extension Dictionary where Key == String, Value == String {
    /// The entries for `keys` only: O(keys), where `filter` would walk every worker's zone for every model.
    func filter(keys: Set<String>) -> [String: String] {
        var result: [String: String] = [:]
        for key in keys { if let value = self[key] { result[key] = value } }
        return result
    }
}
