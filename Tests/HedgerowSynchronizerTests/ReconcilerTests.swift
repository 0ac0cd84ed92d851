import HedgerowCore
@testable import HedgerowSynchronizer
import Testing

@Suite struct ReconcilerTests {
    let m1 = ModelVersionID(model: try! ModelName("digits"), version: try! ModelVersion(1))
    let spec = DesiredState.ModelSpec(
        name: try! ModelName("digits"), versions: .latest(1), labels: ["stable": try! ModelVersion(1)], replicas: 1,
        placement: .any, hedging: .default, batching: .default
    )

    func report(_ name: String, _ states: [(ModelVersionID, ModelVersionState)]) -> WorkerStateReport {
        WorkerStateReport(name: name, address: "addr-\(name)", zone: "a", memoryMB: 1024,
                          models: states.map { LoadedModelVersion(model: $0.0.model.rawValue, version: $0.0.version.number, state: $0.1) })
    }

    func input(plan: [String], observed: [WorkerStateReport], now: Double) -> Reconciler.Input {
        Reconciler.Input(
            models: [spec], plan: .init(assignments: [m1: plan], problems: [:]),
            observed: Dictionary(uniqueKeysWithValues: observed.map { ($0.name, $0) }), now: now, drainSeconds: 2
        )
    }

    /// Unnamed requests go to the stable label's version when it is routable; a canary never becomes the default
    /// by being the newest.
    @Test func theDefaultVersionIsStableThenTheNewestThatIsNotTheCanary() {
        #expect(Reconciler.defaultVersion([1, 2], labels: ["stable": 1], canary: nil) == 1)
        #expect(Reconciler.defaultVersion([1, 2], labels: ["stable": 3], canary: nil) == 2)
        #expect(Reconciler.defaultVersion([1, 2], labels: [:], canary: 2) == 1)
        #expect(Reconciler.defaultVersion([2], labels: [:], canary: 2) == 2)
        #expect(Reconciler.defaultVersion([1, 2, 3], labels: [:], canary: nil) == 3)
        #expect(Reconciler.defaultVersion([], labels: ["stable": 1], canary: nil) == nil)
    }

    @Test func loadsMissingReplicasAndRoutesOnlyAvailableOnes() {
        let out = Reconciler.reconcile(input(plan: ["w1", "w2"], observed: [report("w1", [(m1, .available)]), report("w2", [])], now: 0), memory: .init())
        #expect(out.loads == [Reconciler.ReplicaKey(worker: "w2", id: m1)])
        #expect(out.routes["digits"]?.versions == ["1": ["addr-w1"]])
        #expect(out.routes["digits"]?.labels == ["stable": 1])
        #expect(out.routes["digits"]?.defaultVersion == 1)
        #expect(out.routes["digits"]?.zones == ["addr-w1": "a"])  // for routers to send backups to another zone
    }

    @Test func moveIsMakeBeforeBreak() {
        // Planned on w2 now; w1 still serves until w2 is AVAILABLE.
        var memory = Reconciler.Memory()
        var out = Reconciler.reconcile(input(plan: ["w2"], observed: [report("w1", [(m1, .available)]), report("w2", [(m1, .loading)])], now: 0), memory: memory)
        #expect(out.routes["digits"]?.versions["1"] == ["addr-w1"])
        #expect(out.unloads.isEmpty)
        memory = out.memory
        // w2 ready: both in routes? No — w1 leaves the routes now, stays loaded while it drains.
        out = Reconciler.reconcile(input(plan: ["w2"], observed: [report("w1", [(m1, .available)]), report("w2", [(m1, .available)])], now: 1), memory: memory)
        #expect(out.routes["digits"]?.versions["1"] == ["addr-w2"])
        #expect(out.unloads.isEmpty)
        memory = out.memory
        // After the drain period, w1 is unloaded.
        out = Reconciler.reconcile(input(plan: ["w2"], observed: [report("w1", [(m1, .available)]), report("w2", [(m1, .available)])], now: 3.5), memory: memory)
        #expect(out.unloads == [Reconciler.ReplicaKey(worker: "w1", id: m1)])
    }

    @Test func failedLoadsAreRetriedAfterAPause() {
        var out = Reconciler.reconcile(input(plan: ["w1"], observed: [report("w1", [])], now: 0), memory: .init())
        #expect(out.loads.count == 1)
        let memory = out.memory
        out = Reconciler.reconcile(input(plan: ["w1"], observed: [report("w1", [(m1, .failed)])], now: 1), memory: memory)
        #expect(out.loads.isEmpty)
        out = Reconciler.reconcile(input(plan: ["w1"], observed: [report("w1", [(m1, .failed)])], now: 6), memory: memory)
        #expect(out.loads.count == 1)
    }

    @Test func deadWorkersAreNotRouted() {
        let out = Reconciler.reconcile(input(plan: ["w1", "w2"], observed: [report("w2", [(m1, .available)])], now: 0), memory: .init())
        #expect(out.routes["digits"]?.versions["1"] == ["addr-w2"])
        #expect(out.loads.isEmpty)  // w1 is not observed: no call to a dead worker
    }

    @Test func failedLoadsBackOffDoublingAndResetOnceAvailable() {
        let failed = [report("w1", [(m1, .failed)])]
        var memory = Reconciler.reconcile(input(plan: ["w1"], observed: [report("w1", [])], now: 0), memory: .init()).memory
        // Retries at 5 s, then 10 s after that, then 20 s after that.
        var sentAt: [Double] = []
        for now in stride(from: 1.0, through: 40, by: 1) {
            let out = Reconciler.reconcile(input(plan: ["w1"], observed: failed, now: now), memory: memory)
            if !out.loads.isEmpty { sentAt.append(now) }
            memory = out.memory
        }
        #expect(sentAt == [5, 15, 35])
        // Once AVAILABLE the count is forgotten: the next failure waits 5 s again.
        memory = Reconciler.reconcile(input(plan: ["w1"], observed: [report("w1", [(m1, .available)])], now: 41), memory: memory).memory
        #expect(memory.failedLoads.isEmpty)
    }

    @Test func loadsPerWorkerAreBounded() {
        let ids = (1...5).map { ModelVersionID(model: try! ModelName("m\($0)"), version: try! ModelVersion(1)) }
        let plan = PlacementPlanner.Plan(assignments: Dictionary(uniqueKeysWithValues: ids.map { ($0, ["w1"]) }), problems: [:])
        func round(_ states: [(ModelVersionID, ModelVersionState)]) -> [ModelVersionID] {
            // Every version already serves on w2, so none of these loads is a probe.
            let observed = ["w1": report("w1", states), "w2": report("w2", ids.map { ($0, .available) })]
            return Reconciler.reconcile(.init(models: [], plan: plan, observed: observed, now: 0, maxLoadsPerWorker: 2), memory: .init()).loads.map(\.id)
        }
        #expect(round([]) == [ids[0], ids[1]])                                  // two at a time, in order
        #expect(round([(ids[0], .loading), (ids[1], .loading)]).isEmpty)        // both slots busy
        #expect(round([(ids[0], .available), (ids[1], .loading)]) == [ids[2]])  // one slot freed
    }

    @Test func batchingChangesReachLoadedReplicasWithoutReloading() throws {
        let wanted = try BatchingPolicy(maxBatchSize: 8, maxDelayMicros: 100)
        var changed = spec
        changed.batching = wanted
        func observed(_ requested: BatchingPolicy?) -> [String: WorkerStateReport] {
            let version = LoadedModelVersion(model: "digits", version: 1, state: .available, batching: requested ?? .default, requestedBatching: requested)
            return ["w1": WorkerStateReport(name: "w1", address: "addr-w1", zone: "a", memoryMB: 1024, models: [version])]
        }
        let key = Reconciler.ReplicaKey(worker: "w1", id: m1)
        let plan = PlacementPlanner.Plan(assignments: [m1: ["w1"]], problems: [:])
        var out = Reconciler.reconcile(.init(models: [changed], plan: plan, observed: observed(nil), now: 0), memory: .init())
        #expect(out.settings == [key])
        #expect(out.loads.isEmpty, "a settings change is not a reload")
        out = Reconciler.reconcile(.init(models: [changed], plan: plan, observed: observed(wanted), now: 1), memory: .init())
        #expect(out.settings.isEmpty, "the worker already runs with it")
        // Taken out of the desired state: the worker goes back to the version's config.yaml.
        var unset = spec
        unset.batching = nil
        out = Reconciler.reconcile(.init(models: [unset], plan: plan, observed: observed(wanted), now: 2), memory: .init())
        #expect(out.settings == [key])
    }

    @Test func aVersionServingNowhereLoadsOnOneWorkerFirst() {
        let plan = PlacementPlanner.Plan(assignments: [m1: ["w1", "w2", "w3"]], problems: [:])
        func round(_ observed: [WorkerStateReport]) -> [String] {
            Reconciler.reconcile(.init(models: [spec], plan: plan, observed: Dictionary(uniqueKeysWithValues: observed.map { ($0.name, $0) }), now: 0),
                                 memory: .init()).loads.map(\.worker)
        }
        #expect(round([report("w1", []), report("w2", []), report("w3", [])]) == ["w1"])
        // While that one loads, the others wait; a failed probe is retried on its own.
        #expect(round([report("w1", [(m1, .loading)]), report("w2", []), report("w3", [])]).isEmpty)
        // Once it is AVAILABLE, the rest load together.
        #expect(round([report("w1", [(m1, .available)]), report("w2", []), report("w3", [])]) == ["w2", "w3"])
    }

    @Test func aWorkerRunsOneProbeAtATime() {
        let ids = (1...3).map { ModelVersionID(model: try! ModelName("m\($0)"), version: try! ModelVersion(1)) }
        let plan = PlacementPlanner.Plan(assignments: Dictionary(uniqueKeysWithValues: ids.map { ($0, ["w1", "w2"]) }), problems: [:])
        let observed = ["w1": report("w1", []), "w2": report("w2", [])]
        let loads = Reconciler.reconcile(.init(models: [], plan: plan, observed: observed, now: 0, maxLoadsPerWorker: 2), memory: .init()).loads
        // m1 probes on w1, m2 on w2; m3 waits for a worker without a probe.
        #expect(loads == [.init(worker: "w1", id: ids[0]), .init(worker: "w2", id: ids[1])])
    }

    @Test func aHeldVersionLoadsNowhere() {
        let plan = PlacementPlanner.Plan(assignments: [m1: ["w1", "w2"]], problems: [:])
        let observed = ["w1": report("w1", []), "w2": report("w2", [])]
        let out = Reconciler.reconcile(.init(models: [spec], plan: plan, observed: observed, now: 0, held: [m1]), memory: .init())
        #expect(out.loads.isEmpty)
    }

    @Test func aDesiredModelWithNoReplicaUpStaysInTheRoutesEmpty() {
        let plan = PlacementPlanner.Plan(assignments: [m1: ["w1"]], problems: [:])
        let out = Reconciler.reconcile(.init(models: [spec], plan: plan, observed: ["w1": report("w1", [(m1, .loading)])], now: 0), memory: .init())
        let routes = out.routes["digits"]
        #expect(routes?.versions.isEmpty == true && routes?.defaultVersion == nil)
        let table = RoutingTable(generation: 1, models: out.routes)
        #expect(throws: HedgerowError(.unavailable, "model 'digits' has no replica up right now (it is being placed again); retry shortly")) {
            _ = try table.resolve(model: try ModelName("digits"), selector: .label("stable"))
        }
    }

    @Test func aModelRemovedFromTheDesiredStateDrainsThenUnloads() {
        let observed = ["w1": report("w1", [(m1, .available)])]
        var out = Reconciler.reconcile(.init(models: [], plan: .init(assignments: [:], problems: [:]), observed: observed, now: 0, drainSeconds: 2), memory: .init())
        #expect(out.routes["digits"] == nil)
        #expect(out.unloads.isEmpty)
        out = Reconciler.reconcile(.init(models: [], plan: .init(assignments: [:], problems: [:]), observed: observed, now: 2.5, drainSeconds: 2), memory: out.memory)
        #expect(out.unloads == [Reconciler.ReplicaKey(worker: "w1", id: m1)])
    }

    @Test func aDesiredModelWithNothingPlannedKeepsServingWhatItHas() {
        // Its versions poisoned or their files gone: nothing replaces the loaded replica, so it keeps serving.
        let out = Reconciler.reconcile(.init(models: [spec], plan: .init(assignments: [:], problems: [:]), observed: ["w1": report("w1", [(m1, .available)])], now: 9), memory: .init())
        #expect(out.routes["digits"]?.versions["1"] == ["addr-w1"])
        #expect(out.unloads.isEmpty)
    }
}
