import HedgerowCore
import HedgerowRuntime

/// A sharded version split into the parts the planner places and the workers load (see `ShardingPolicy`): the
/// entry under the model's own name, and shard k as `<model>.ps-<k>` at the same version number.
///
/// What each part costs is computed from the tables' shapes in the model file, before anything is loaded (a worker's
/// measurement replaces the estimate once it has one): shard k holds `layout.count(of: k)` rows of every table, the
/// entry what is left of the version's files. All sums are overflow-checked; shapes come from a hostile file.
struct ShardedVersion: Sendable, Equatable {
    /// The entry: the model's own name and version.
    let id: ModelVersionID
    let policy: ShardingPolicy
    /// The split tables, as the model file declares them (resolved from `tables` and `minBytes`).
    let tables: [EmbeddingTable]
    /// Bytes of the version's files (model and external data).
    let fileBytes: Int

    var tableNames: [String] { tables.map(\.name) }

    var tableBytes: Int { tables.reduce(0) { sum, table in sum.addingReportingOverflow(table.bytes).overflow ? .max : sum + table.bytes } }

    /// The dense part: the files less the tables (at least 0).
    var entryBytes: Int { max(0, fileBytes - tableBytes) }

    func shardBytes(_ shard: Int) -> Int {
        var total = 0
        for table in tables {
            guard let layout = try? ShardLayout(rows: table.rows, shards: policy.shards, scheme: policy.scheme) else { continue }
            let (rowBytes, o1) = table.rowElements.multipliedReportingOverflow(by: MemoryLayout<Float>.size)
            let (bytes, o2) = layout.count(of: shard).multipliedReportingOverflow(by: rowBytes)
            let (sum, o3) = total.addingReportingOverflow(bytes)
            guard !(o1 || o2 || o3) else { return .max }
            total = sum
        }
        return total
    }

    /// Shard k's part, as placed and loaded.
    func partID(_ shard: Int) -> ModelVersionID? {
        (try? ModelName(ShardingPolicy.partName(id.model, shard: shard))).map { ModelVersionID(model: $0, version: id.version) }
    }

    var partIDs: [ModelVersionID] { (0..<policy.shards).compactMap(partID) }

    func part(shard: Int?, addresses: [[String]]? = nil, hedging: HedgingPolicy? = nil) -> ShardedPart {
        ShardedPart(role: shard == nil ? .entry : .ps, model: id.model.rawValue, shard: shard, shards: policy.shards,
                    scheme: policy.scheme, tables: tableNames, shardAddresses: addresses, hedging: hedging)
    }

    /// What the planner places: the entry with the model's replicas and placement, each shard with the sharding's
    /// replicas (on distinct workers, as any version's replicas are) and the same placement rules.
    func demands(spec: DesiredState.ModelSpec, measured: [ModelVersionID: Int]) -> [PlacementPlanner.Demand] {
        var demands = [PlacementPlanner.Demand(id: id, replicas: spec.replicas, placement: spec.placement, memoryBytes: measured[id] ?? entryBytes)]
        for shard in 0..<policy.shards {
            guard let part = partID(shard) else { continue }
            demands.append(.init(id: part, replicas: policy.replicas, placement: spec.placement, memoryBytes: measured[part] ?? shardBytes(shard)))
        }
        return demands
    }
}

/// The sharded versions of a plan, looked up by any of their parts' ids.
struct ShardedVersions: Sendable {
    let byEntry: [ModelVersionID: ShardedVersion]
    /// A PS part's id → its entry's id and shard.
    let shardOf: [ModelVersionID: (entry: ModelVersionID, shard: Int)]
    /// Names of PS parts (whatever the version), which never appear in routes, with the model they belong to.
    let partOwners: [ModelName: ModelName]
    var partNames: Set<ModelName> { Set(partOwners.keys) }

    init(_ versions: [ShardedVersion] = []) {
        var byEntry: [ModelVersionID: ShardedVersion] = [:]
        var shardOf: [ModelVersionID: (entry: ModelVersionID, shard: Int)] = [:]
        var partOwners: [ModelName: ModelName] = [:]
        for version in versions {
            byEntry[version.id] = version
            for shard in 0..<version.policy.shards {
                guard let part = version.partID(shard) else { continue }
                shardOf[part] = (version.id, shard)
                partOwners[part.model] = version.id.model
            }
        }
        (self.byEntry, self.shardOf, self.partOwners) = (byEntry, shardOf, partOwners)
    }

    /// The entry a PS part of any version belongs to (an old version's too, which `shardOf` no longer lists).
    func entry(of part: ModelVersionID) -> ModelVersionID? {
        partOwners[part.model].map { ModelVersionID(model: $0, version: part.version) }
    }

    /// The part a replica of `id` loads as, without addresses; nil for a whole model.
    func part(of id: ModelVersionID) -> ShardedPart? {
        if let version = byEntry[id] { return version.part(shard: nil) }
        if let (entry, shard) = shardOf[id] { return byEntry[entry]?.part(shard: shard) }
        return nil
    }
}
