import HedgerowCore
@testable import HedgerowRuntime
@testable import HedgerowSynchronizer
import Testing

/// A sharded version's parts as the reconciler drives them: shards first, ready means whole, entries told where
/// their shards are, PS parts never routed, and the old version's shards kept until its entries drain.
@Suite struct ShardedVersionTests {
    static let ranker = try! ModelName("ranker")
    static func id(_ name: String, _ version: Int) -> ModelVersionID { ModelVersionID(model: try! ModelName(name), version: try! ModelVersion(version)) }
    let e1 = id("ranker", 1), p0 = id("ranker.ps-0", 1), p1 = id("ranker.ps-1", 1)
    let e2 = id("ranker", 2), q0 = id("ranker.ps-0", 2), q1 = id("ranker.ps-1", 2)
    static let policy = ShardingPolicy(tables: ["user_emb"], minBytes: nil, shards: 2, scheme: .mod, replicas: 1)
    let spec = DesiredState.ModelSpec(name: ranker, versions: .latest(1), labels: [:], replicas: 1, placement: .any, hedging: .default,
                                      batching: nil, sharding: policy)

    static func split(_ version: Int) -> ShardedVersion {
        ShardedVersion(id: id("ranker", version), policy: policy,
                       tables: [EmbeddingTable(name: "user_emb", rows: 10, rowShape: [4], bytes: 160)], fileBytes: 1000)
    }

    /// `models`: id → state, and for an entry the addresses it reports.
    func report(_ worker: String, _ models: [(ModelVersionID, ModelVersionState, [[String]]?)]) -> WorkerStateReport {
        WorkerStateReport(name: worker, address: "addr-\(worker)", zone: "a", memoryMB: 64, models: models.map { id, state, addresses in
            var loaded = LoadedModelVersion(model: id.model.rawValue, version: id.version.number, state: state)
            if let addresses { loaded.part = Self.split(id.version.number).part(shard: nil, addresses: addresses) }
            return loaded
        })
    }

    func reconcile(_ plan: [ModelVersionID: [String]], _ observed: [WorkerStateReport], versions: [Int] = [1], now: Double = 0,
                   memory: Reconciler.Memory = .init()) -> Reconciler.Output {
        var input = Reconciler.Input(models: [spec], plan: .init(assignments: plan, problems: [:]),
                                     observed: Dictionary(uniqueKeysWithValues: observed.map { ($0.name, $0) }), now: now, drainSeconds: 2)
        input.sharded = ShardedVersions(versions.map(Self.split))
        return Reconciler.reconcile(input, memory: memory)
    }

    @Test func partsCostWhatTheirRowsHold() {
        let split = Self.split(1)
        #expect(split.partIDs == [p0, p1])
        #expect(split.shardBytes(0) == 5 * 16 && split.shardBytes(1) == 5 * 16)
        #expect(split.entryBytes == 1000 - 160)
        let demands = split.demands(spec: spec, measured: [p1: 4096])
        #expect(demands.map(\.id) == [e1, p0, p1])
        #expect(demands.map(\.memoryBytes) == [840, 80, 4096], "a worker's measurement wins over the estimate")
        #expect(split.part(shard: 1).digest(version: 1) == split.part(shard: nil).digest(version: 1), "entry and shard agree on the content")
    }

    @Test func shardsLoadFirstAndTheEntryLearnsWhereTheyAre() {
        let plan = [e1: ["w1"], p0: ["w2"], p1: ["w3"]]
        var out = reconcile(plan, [report("w1", []), report("w2", [(p0, .available, nil)]), report("w3", [(p1, .loading, nil)])])
        #expect(!out.loads.contains { $0.id == e1 }, "no entry before every shard has a ready replica")
        #expect(out.parts[.init(worker: "w3", id: p1)] == nil, "a loading shard is not sent again")
        out = reconcile(plan, [report("w1", []), report("w2", [(p0, .available, nil)]), report("w3", [(p1, .available, nil)])])
        let key = Reconciler.ReplicaKey(worker: "w1", id: e1)
        #expect(out.loads == [key])
        #expect(out.parts[key]?.role == .entry && out.parts[key]?.shardAddresses == [["addr-w2"], ["addr-w3"]])
        #expect(out.routes["ranker"]?.versions.isEmpty == true, "not routed before it is loaded")
        #expect(out.routes["ranker.ps-0"] == nil && out.routes["ranker.ps-1"] == nil, "PS parts are never routed")
    }

    @Test func anEntryIsRoutedOnlyWhileItsShardsAreWhole() {
        let plan = [e1: ["w1"], p0: ["w2"], p1: ["w3"]]
        let whole = [["addr-w2"], ["addr-w3"]]
        var out = reconcile(plan, [report("w1", [(e1, .available, whole)]), report("w2", [(p0, .available, nil)]), report("w3", [(p1, .available, nil)])])
        #expect(out.routes["ranker"]?.versions == ["1": ["addr-w1"]])
        #expect(out.settings.isEmpty)
        // Shard 1's only replica is gone: the entry leaves the routes and is told shard 1 has nowhere to go.
        out = reconcile(plan, [report("w1", [(e1, .available, whole)]), report("w2", [(p0, .available, nil)])])
        #expect(out.routes["ranker"]?.versions.isEmpty == true)
        let key = Reconciler.ReplicaKey(worker: "w1", id: e1)
        #expect(out.settings == [key] && out.parts[key]?.shardAddresses == [["addr-w2"], []])
        // Shard 1 replaced on w4: the entry is told, and routed again once it reports the new address.
        out = reconcile([e1: ["w1"], p0: ["w2"], p1: ["w4"]], [report("w1", [(e1, .available, [["addr-w2"], []])]), report("w2", [(p0, .available, nil)]), report("w4", [(p1, .available, nil)])])
        #expect(out.routes["ranker"]?.versions.isEmpty == true)
        #expect(out.parts[key]?.shardAddresses == [["addr-w2"], ["addr-w4"]])
        out = reconcile([e1: ["w1"], p0: ["w2"], p1: ["w4"]], [report("w1", [(e1, .available, [["addr-w2"], ["addr-w4"]])]), report("w2", [(p0, .available, nil)]), report("w4", [(p1, .available, nil)])])
        #expect(out.routes["ranker"]?.versions == ["1": ["addr-w1"]])
    }

    @Test func aRolloutKeepsTheOldShardsUntilTheOldEntriesDrain() {
        let plan = [e2: ["w1"], q0: ["w2"], q1: ["w3"]]
        let old = [["addr-w2"], ["addr-w3"]]
        // v2 whole and routed; v1's entry still AVAILABLE while it drains: v1's shards stay.
        let observed = [
            report("w1", [(e1, .available, old), (e2, .available, old)]),
            report("w2", [(p0, .available, nil), (q0, .available, nil)]), report("w3", [(p1, .available, nil), (q1, .available, nil)]),
        ]
        var out = reconcile(plan, observed, versions: [2])
        #expect(out.routes["ranker"]?.versions == ["2": ["addr-w1"]])
        #expect(!out.unloads.contains { $0.id == p0 || $0.id == p1 }, "v1's rows stay while a v1 entry may read them")
        let memory = out.memory
        out = reconcile(plan, observed, versions: [2], now: 3, memory: memory)
        #expect(out.unloads == [Reconciler.ReplicaKey(worker: "w1", id: e1)], "the old entry goes after the drain")
        // The old entry gone: its shards go.
        out = reconcile(plan, [report("w1", [(e2, .available, old)]), report("w2", [(p0, .available, nil), (q0, .available, nil)]),
                               report("w3", [(p1, .available, nil), (q1, .available, nil)])], versions: [2], now: 4, memory: out.memory)
        out = reconcile(plan, [report("w1", [(e2, .available, old)]), report("w2", [(p0, .available, nil), (q0, .available, nil)]),
                               report("w3", [(p1, .available, nil), (q1, .available, nil)])], versions: [2], now: 7, memory: out.memory)
        #expect(Set(out.unloads.map(\.id)) == [p0, p1])
    }
}
