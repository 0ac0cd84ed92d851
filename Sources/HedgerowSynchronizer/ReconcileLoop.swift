import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import HedgerowRuntime
import Logging
import Metrics
import NIOConcurrencyHelpers

/// One round of the control loop, with the little it remembers between rounds. Decisions come from the pure
/// `PlacementPlanner` and `Reconciler`; this type does the I/O around them and logs each decision once.
struct ReconcileLoop: Sendable {
    let configuration: SynchronizerConfiguration
    let admin: AdminClient
    let publisher: RoutesPublisher
    let inventory: WorkerInventory
    let report: NIOLockedValueBox<SynchronizerStateReport>
    let poisoned: PoisonRegistry
    let canaries: CanaryRegistry
    let clock: @Sendable () -> Double
    let logger: Logger

    private var source: DesiredStateSource
    private var plan = PlacementPlanner.Plan(assignments: [:], problems: [:])
    /// The planner's memory between rounds: a round where the fleet is unchanged costs what changed (an edit, a
    /// measured memory), not a full plan.
    private var placement = PlacementState(demands: [], workers: [])
    private var gauges = SynchronizerGauges()
    private var memory = Reconciler.Memory()
    private var aliveBefore: Set<String> = []
    /// Each worker's last answer, used while it is still alive by heartbeat but slow to answer (a busy worker
    /// must not flap out of the routes); a refused connection drops it at once.
    private var lastReports: [String: WorkerStateReport] = [:]
    /// Replicas LOADING or sent a load in the last round, and those sent an unload: to tell a worker that died
    /// of a load (see `PoisonedVersions`).
    private var loadingBefore: Set<Reconciler.ReplicaKey> = []
    private var unloadsBefore: Set<Reconciler.ReplicaKey> = []
    /// Each sharded version's split, or why it cannot be split, with the model file's stamp it was read at (a
    /// model file is parsed once per version, not once per round).
    private var splits: [ModelVersionID: (stamp: PoisonedVersions.FileStamp?, policy: ShardingPolicy, split: Result<ShardedVersion, HedgerowError>)] = [:]
    /// The sharded versions of the current plan.
    private var sharded = ShardedVersions()

    init(
        configuration: SynchronizerConfiguration, admin: AdminClient, publisher: RoutesPublisher, inventory: WorkerInventory,
        report: NIOLockedValueBox<SynchronizerStateReport>, poisoned: PoisonRegistry, canaries: CanaryRegistry = CanaryRegistry(),
        clock: @escaping @Sendable () -> Double, logger: Logger
    ) {
        self.canaries = canaries
        self.poisoned = poisoned
        self.configuration = configuration
        self.admin = admin
        self.publisher = publisher
        self.inventory = inventory
        self.report = report
        self.clock = clock
        self.logger = logger
        self.source = DesiredStateSource(file: configuration.desiredStateFile)
        // At 0 from the start: the first refused edit must be an increase, not a series appearing at 1.
        _ = Counter(label: MetricNames.syncConfigErrors)
    }

    mutating func tick() async {
        switch source.refresh() {
        case .unchanged: break
        case .applied:
            logger.info("desired state applied", metadata: ["file": "\(source.file)", "hash": "\(source.currentHash ?? "")"])
            inventory.setStatic(source.current?.workers ?? [])
            for model in source.current?.models ?? [] {
                _ = Counter(label: MetricNames.syncPoisonedVersions, dimensions: [("model", model.name.rawValue)])
            }
        case .refused(let message):
            Counter(label: MetricNames.syncConfigErrors).increment()
            logger.error("desired state refused; the last valid state stays in force:\n\(message)")
        }
        guard let desired = source.current else {
            publishReport(observed: [:], now: clock())
            return
        }
        canaries.withVerdicts { verdicts in
            verdicts.setDesired(Dictionary(desired.models.compactMap { m in m.canary.map { (m.name.rawValue, $0) } }, uniquingKeysWith: { a, _ in a }))
        }

        // Observe every known worker.
        let now = clock()
        let (answered, failures) = await observe(now: now)
        var observed = answered
        for entry in inventory.all where observed[entry.name] == nil && failures[entry.name]?.refused != true {
            if inventory.isAlive(entry, now: now), let last = lastReports[entry.name] { observed[entry.name] = last }
        }
        lastReports = observed
        let repository = ModelRepository(root: desired.repository)
        watchForPoison(answered: answered, refused: Set(failures.values.filter(\.refused).map(\.name)), repository: repository, now: now)
        let alive = Set(observed.keys)
        for name in aliveBefore.subtracting(alive).sorted() {
            logger.warning("worker \(name) is out: \(failures[name]?.failure ?? "no heartbeat for \(inventory.deadAfter) s"); its replicas leave the routes")
        }
        for name in alive.subtracting(aliveBefore).sorted() { logger.info("worker \(name) is alive") }
        aliveBefore = alive
        inventory.forgetLongGone(now: now)
        // A fresh synchronizer listens for one heartbeat round before it plans or publishes anything.
        guard publisher.isPublished || now >= configuration.startupGraceSeconds else {
            publishReport(observed: observed, now: now)
            return
        }

        // Plan.
        let specs = Dictionary(desired.models.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let measured = Self.measuredMemory(observed)
        var splitVersions: [ShardedVersion] = []
        var splitProblems: [ModelVersionID: String] = [:]
        var demands: [PlacementPlanner.Demand] = []
        for spec in desired.models {
            for version in versions(of: spec, in: repository) {
                let id = ModelVersionID(model: spec.name, version: version)
                guard let sharding = spec.sharding else {
                    demands.append(.init(id: id, replicas: spec.replicas, placement: spec.placement, memoryBytes: measured[id] ?? repository.fileSize(id) ?? 0))
                    continue
                }
                switch split(id, sharding, repository: repository) {
                case .success(let split):
                    splitVersions.append(split)
                    demands += split.demands(spec: spec, measured: measured)
                case .failure(let error):
                    splitProblems[id] = error.message
                }
            }
        }
        sharded = ShardedVersions(splitVersions)
        let workers = inventory.all.filter { alive.contains($0.name) }.map {
            PlacementPlanner.Worker(name: $0.name, zone: $0.zone, capacityBytes: $0.memoryMB << 20)
        }
        var loaded: [ModelVersionID: Set<String>] = [:]
        for (worker, report) in observed {
            for m in report.models where m.state == .available || m.state == .loading {
                if let id = m.id { loaded[id, default: []].insert(worker) }
            }
        }
        placement.replan(demands: demands, workers: workers, loaded: loaded)
        var newPlan = placement.plan
        newPlan.problems.merge(splitProblems) { a, _ in a }
        let decisions = PlacementDecisions.explain(
            from: plan, to: newPlan,
            context: .init(specs: specs, alive: alive, loaded: loaded, partOwners: sharded.partOwners)
        )
        for line in decisions { logger.info("\(line)") }
        plan = newPlan

        // Act.
        // A version whose load is in question (its worker stopped answering mid-load) loads nowhere else until the
        // question is settled: that worker answers, or it is found dead and the version poisoned.
        let inQuestion = Set(loadingBefore.filter { answered[$0.worker] == nil }.map(\.id))
        var input = Reconciler.Input(
            models: desired.models, plan: plan, observed: observed, now: now, drainSeconds: configuration.drainSeconds,
            maxLoadsPerWorker: configuration.maxLoadsPerWorker, held: inQuestion
        )
        input.sharded = sharded
        let output = Reconciler.reconcile(input, memory: memory)
        memory = output.memory
        let unloaded = await withTaskGroup(of: Reconciler.ReplicaKey?.self) { group -> Set<Reconciler.ReplicaKey> in
            for key in output.loads {
                guard let address = observed[key.worker]?.address else { continue }
                if let failures = output.memory.failedLoads[key] {
                    let error = observed[key.worker]?.models.first { $0.id == key.id }?.error ?? "unknown error"
                    logger.info("retrying the load of \(key.id) on \(key.worker) (failure \(failures) in a row: \(error))")
                }
                let batching = specs[key.id.model]?.batching
                let requireReference = specs[key.id.model]?.requireReference ?? false
                let part = output.parts[key]
                group.addTask { [admin, logger] in
                    do { try await admin.load(key.id, batching: batching, requireReference: requireReference, part: part, on: address) } catch {
                        logger.warning("load failed to start", metadata: ["model": "\(key.id)", "worker": "\(key.worker)", "error": "\(error)"])
                    }
                    return nil
                }
            }
            for key in output.settings {
                guard let address = observed[key.worker]?.address else { continue }
                let batching = specs[key.id.model]?.batching
                let part = output.parts[key]
                if let addresses = part?.shardAddresses {
                    logger.info("sending \(key.id) on \(key.worker) its shards' replicas: \(addresses.enumerated().map { "shard \($0.offset): \($0.element.isEmpty ? "none" : $0.element.joined(separator: ", "))" }.joined(separator: "; "))")
                } else {
                    logger.info("setting batching of \(key.id) on \(key.worker) to \(batching.map { "maxBatchSize \($0.maxBatchSize), maxDelayMicros \($0.maxDelayMicros)" } ?? "its config.yaml's")")
                }
                let requireReference = specs[key.id.model]?.requireReference ?? false
                group.addTask { [admin, logger] in
                    do { try await admin.load(key.id, batching: batching, requireReference: requireReference, part: part, on: address) } catch {
                        logger.warning("batching change failed", metadata: ["model": "\(key.id)", "worker": "\(key.worker)", "error": "\(error)"])
                    }
                    return nil
                }
            }
            for key in output.unloads {
                guard let address = observed[key.worker]?.address else { continue }
                logger.info("unloading \(key.id) from \(key.worker): no longer planned there and its routes moved")
                group.addTask { [admin, logger] in
                    do { try await admin.unload(key.id, on: address) } catch {
                        logger.warning("unload failed", metadata: ["model": "\(key.id)", "worker": "\(key.worker)", "error": "\(error)"])
                        return nil
                    }
                    return key
                }
            }
            var done: Set<Reconciler.ReplicaKey> = []
            for await key in group { if let key { done.insert(key) } }
            return done
        }
        // A load in progress on a worker that did not answer this round stays in question until it answers (a
        // crashing process can hang for seconds while the runtime prints its backtrace).
        loadingBefore = Set(output.loads).union(loadingBefore.filter { answered[$0.worker] == nil })
        for (worker, report) in answered {
            for m in report.models where m.state == .loading { if let id = m.id { loadingBefore.insert(.init(worker: worker, id: id)) } }
        }
        // Only unloads the worker confirmed explain a version gone from it.
        unloadsBefore = unloaded
        // Latched canary aborts stay in every table published until the canary block is edited.
        let generation = publisher.publish(canaries.withVerdicts { $0.applied(to: output.routes) })
        Gauge(label: MetricNames.syncGeneration).record(generation)
        publishReport(observed: observed, now: now)
    }

    /// One worker's answer to `GET /admin/state`, or why there was none.
    struct Observation: Sendable {
        var name: String
        var report: WorkerStateReport?
        var failure: String?
        /// The connection was refused: no process listens there any more.
        var refused: Bool
    }

    /// Asks every known worker for its state at once. The ones that answer are observed; for the others the
    /// reason (refused, timed out, 401 for a wrong admin token) is returned for the log.
    private func observe(now: Double) async -> (reports: [String: WorkerStateReport], failures: [String: Observation]) {
        let entries = inventory.all
        return await withTaskGroup(of: Observation.self) { group in
            for entry in entries {
                // A worker already dead is still asked (a static one comes back by answering), but briefly: a lost
                // machine must not hold up every round by a whole timeout until it is forgotten.
                let timeout = inventory.isAlive(entry, now: now) ? admin.stateTimeout : min(admin.stateTimeout, .milliseconds(200))
                group.addTask { [admin] in
                    do {
                        return Observation(name: entry.name, report: try await admin.state(of: entry.address, timeout: timeout), failure: nil, refused: false)
                    } catch {
                        return Observation(name: entry.name, report: nil, failure: "\(error)", refused: Self.isRefused(error))
                    }
                }
            }
            var reports: [String: WorkerStateReport] = [:]
            var failures: [String: Observation] = [:]
            let addresses = Dictionary(entries.map { ($0.name, $0.address) }, uniquingKeysWith: { a, _ in a })
            for await observation in group {
                if var report = observation.report, report.name == observation.name {
                    inventory.seen(observation.name, now: now)
                    report.address = addresses[observation.name] ?? report.address
                    reports[observation.name] = report
                } else {
                    var failed = observation
                    if let report = observation.report {
                        // Another process answers at this worker's address (a restart under another name?).
                        failed.failure = "the process at its address says it is worker \(ModelName.quoted(report.name))"
                    }
                    failures[observation.name] = failed
                }
            }
            return (reports, failures)
        }
    }

    /// A refused connection means no process listens there any more: no reason to wait for missed heartbeats.
    private static func isRefused(_ error: any Error) -> Bool {
        if case .connectFailed? = error as? HTTP2ClientError { return true }
        return false
    }

    /// A sharded version's split, read from its model file once per version and file stamp. A table that cannot be
    /// split (not an initializer, read by anything but `Gather(axis=0)`) is the version's placement problem, shown
    /// by `hedgerow status`; nothing of the version is placed.
    private mutating func split(_ id: ModelVersionID, _ sharding: ShardingPolicy, repository: ModelRepository) -> Result<ShardedVersion, HedgerowError> {
        let stamp = PoisonRegistry.stamp(id, in: repository)
        if let cached = splits[id], cached.stamp == stamp, cached.policy == sharding { return cached.split }
        let result = Result { () throws(HedgerowError) -> ShardedVersion in
            let path = try repository.verifiedModelFile(id)
            let tables = try EmbeddingTables.select(modelFile: path, names: sharding.tables, minBytes: sharding.minBytes)
            guard !tables.isEmpty else {
                throw HedgerowError(.invalidConfiguration, "\(id): no table of at least \(sharding.minBytes ?? 0) bytes can be sharded")
            }
            return ShardedVersion(id: id, policy: sharding, tables: tables, fileBytes: repository.fileSize(id) ?? 0)
        }
        if case .failure(let error) = result { logger.error("\(id) cannot be served sharded: \(error.message)") }
        splits[id] = (stamp, sharding, result)
        return result
    }

    /// The versions to serve; poisoned ones are left out (so `latest: 1` falls back to the newest loadable one).
    private func versions(of spec: DesiredState.ModelSpec, in repository: ModelRepository) -> [ModelVersion] {
        let loadable = { (v: ModelVersion) in !poisoned.isPoisoned(ModelVersionID(model: spec.name, version: v)) }
        switch spec.versions {
        case .specific(let versions): return versions.filter(loadable)
        case .latest(let n): return Array(repository.versions(of: spec.name).filter(loadable).suffix(n))
        }
    }

    /// Marks versions whose load took a worker down, and lifts those whose files changed since.
    private func watchForPoison(answered: [String: WorkerStateReport], refused: Set<String>, repository: ModelRepository, now: Double) {
        let stamps = { (id: ModelVersionID) in PoisonRegistry.stamp(id, in: repository) }
        let (added, lifted) = poisoned.withState { state in
            (state.observe(loadingBefore: loadingBefore, unloadsSent: unloadsBefore, current: answered, refused: refused, stamps: stamps, now: now),
             state.liftChanged(stamps: stamps))
        }
        for entry in added {
            Counter(label: MetricNames.syncPoisonedVersions, dimensions: [("model", entry.id.model.rawValue)]).increment()
            logger.error("poisoned \(entry.id): \(entry.reason); it is placed on no worker until its files change or `hedgerow clear-poison \(entry.id.model) \(entry.id.version)`")
        }
        for entry in lifted { logger.info("\(entry.id) is no longer poisoned: its files changed; placing it again") }
    }

    /// The largest memory any worker measured for each loaded version: better than the file-size estimate.
    private static func measuredMemory(_ observed: [String: WorkerStateReport]) -> [ModelVersionID: Int] {
        var measured: [ModelVersionID: Int] = [:]
        for report in observed.values {
            for m in report.models where m.memoryBytes > 0 {
                if let id = m.id { measured[id] = max(measured[id] ?? 0, m.memoryBytes) }
            }
        }
        return measured
    }

    private mutating func publishReport(observed: [String: WorkerStateReport], now: Double) {
        let measured = Self.measuredMemory(observed)
        var versions: [SynchronizerStateReport.VersionStatus] = []
        var counts: [ModelVersionID: SynchronizerGauges.VersionCounts] = [:]
        let states = observed.flatMap { worker, report in report.models.map { (worker, report.address, $0) } }
        // Every replica by version, once: looking them up per version was O(versions × replicas).
        var replicasOf: [ModelVersionID: [SynchronizerStateReport.Replica]] = [:]
        for (worker, address, m) in states {
            guard let id = m.id else { continue }
            replicasOf[id, default: []].append(.init(worker: worker, address: address, state: m.state.rawValue, error: m.error))
        }
        let specs = Dictionary((source.current?.models ?? []).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for (id, workers) in plan.assignments.sorted(by: { $0.key < $1.key }) {
            let replicas = (replicasOf[id] ?? []).sorted { $0.worker < $1.worker }
            let ready = replicas.filter { $0.state == ModelVersionState.available.rawValue && workers.contains($0.worker) }.count
            var desired = specs[id.model]?.replicas ?? workers.count
            var part: String?
            var memory: Int?
            if let split = sharded.byEntry[id] {
                (part, memory) = ("entry", measured[id] ?? split.entryBytes)
            } else if let (entry, shard) = sharded.shardOf[id], let split = sharded.byEntry[entry] {
                (part, memory, desired) = ("ps \(shard)/\(split.policy.shards)", measured[id] ?? split.shardBytes(shard), split.policy.replicas)
            }
            versions.append(.init(model: id.model.rawValue, version: id.version.number, desiredReplicas: desired, readyReplicas: ready, replicas: replicas,
                                  problem: plan.problems[id], part: part, memoryBytes: memory))
            counts[id] = .init(desired: desired, ready: ready, assigned: workers.count)
        }
        // A rollout of a sharded model keeps the old version's shards until its entries drain: say so.
        let kept = Set(states.compactMap { _, _, m in m.id }.filter { plan.assignments[$0] == nil && sharded.entry(of: $0) != nil })
        for id in kept.sorted() {
            let replicas = (replicasOf[id] ?? []).sorted { $0.worker < $1.worker }
            versions.append(.init(model: id.model.rawValue, version: id.version.number, desiredReplicas: 0, readyReplicas: 0, replicas: replicas,
                                  problem: "kept while the old version's entries drain: this rollout holds both versions' shards", part: "ps (old)",
                                  memoryBytes: measured[id]))
        }
        let formatter = ISO8601DateFormatter()
        let workers = inventory.all.map { SynchronizerStateReport.WorkerStatus(name: $0.name, address: $0.address, zone: $0.zone, alive: observed[$0.name] != nil) }
        let snapshot = SynchronizerStateReport(
            configFile: source.file, configHash: source.currentHash, configAppliedAt: source.appliedAt.map { formatter.string(from: $0) },
            lastConfigError: source.lastError, lastConfigErrorAt: source.lastErrorAt.map { formatter.string(from: $0) },
            configFileRefused: source.isRefused, generation: publisher.current.generation, workers: workers, versions: versions,
            poisoned: poisoned.entries.map {
                PoisonedVersionStatus(model: $0.id.model.rawValue, version: $0.id.version.number, worker: $0.worker, reason: $0.reason,
                                      since: formatter.string(from: Date(timeIntervalSinceNow: $0.since - now)), crashReport: $0.crashReport)
            }
        )
        report.withLockedValue { $0 = snapshot }
        let alive = workers.filter(\.alive).count
        var poisonedNow: [String: Int] = [:]
        for model in source.current?.models ?? [] { poisonedNow[model.name.rawValue] = 0 }
        for entry in poisoned.entries { poisonedNow[entry.id.model.rawValue, default: 0] += 1 }
        canaries.publishGauges()
        gauges.publish(versions: counts, workersAlive: alive, workersDead: workers.count - alive, configRefused: source.isRefused, poisoned: poisonedNow)
    }
}
