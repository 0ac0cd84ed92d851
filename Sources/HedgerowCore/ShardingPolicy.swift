/// `sharding:` of a model in the desired state: its embedding tables served from parameter-server (PS) shards
/// instead of from every replica.
///
/// A sharded version is served as parts, each placed like a model version of its own: the *entry* under the
/// model's own name (the dense graph; what routers send requests to) and one PS part per shard, named
/// `<model>.ps-<k>` (`partName`), holding only its rows of every sharded table. Parts never appear in routing
/// tables: entries reach their shards directly, at the addresses the synchronizer gives them.
public struct ShardingPolicy: Sendable, Equatable {
    public enum Scheme: String, Sendable, Equatable, CaseIterable, Codable {
        /// Row r on shard r % shards.
        case mod
        /// Contiguous blocks of ⌈rows / shards⌉ rows.
        case range
    }

    /// The tables listed by name; nil when `minBytes` picks them.
    public var tables: [String]?
    /// Every table of at least this many bytes (with `tables`, in addition to them).
    public var minBytes: Int?
    public var shards: Int
    public var scheme: Scheme
    /// Replicas of each shard, on distinct workers.
    public var replicas: Int

    /// Shards of one model (each a process-wide part, so the bound keeps a typo from planning a million parts).
    public static let shardLimit = 1...1024
    /// Tables of one model.
    public static let tableLimit = 1...1024
    /// A sharded model's name leaves room for `.ps-1023` within a model name's 128 characters.
    public static let maxModelNameLength = 120

    public init(tables: [String]?, minBytes: Int?, shards: Int, scheme: Scheme, replicas: Int) {
        (self.tables, self.minBytes, self.shards, self.scheme, self.replicas) = (tables, minBytes, shards, scheme, replicas)
    }

    /// The PS part holding shard `k` of `model`.
    public static func partName(_ model: ModelName, shard: Int) -> String { "\(model.rawValue).ps-\(shard)" }

    /// The name a version's content is known by between entry and PS: the model, version, layout and tables. A PS
    /// answers 409 to a lookup naming another digest, so an entry of v2 never reads v1's rows (versions in the
    /// repository are immutable: a new model file is a new version).
    public static func digest(model: String, version: Int, scheme: Scheme, shards: Int, tables: [String]) -> String {
        "\(model)/\(version)/\(scheme.rawValue)/\(shards)/\(tables.sorted().joined(separator: ","))"
    }
}

/// What a worker is asked to load when a version is one part of a sharded model (`LoadRequest.part`), and reports
/// back as what it holds (`LoadedModelVersion.part`).
public struct ShardedPart: Sendable, Codable, Equatable {
    public enum Role: String, Sendable, Codable, Equatable {
        /// The dense graph, its sharded Gathers answered by lookups to the shards.
        case entry
        /// One shard's rows of every sharded table.
        case ps
    }

    public var role: Role
    /// The sharded model whose files both parts read (`<repository>/<model>/<version>/`).
    public var model: String
    /// The PS part's shard; nil for the entry.
    public var shard: Int?
    public var shards: Int
    public var scheme: ShardingPolicy.Scheme
    /// The tables split, as the synchronizer resolved them from the model file.
    public var tables: [String]
    /// Entry only: the addresses of each shard's ready replicas, shard by shard (`shardAddresses[k]`).
    public var shardAddresses: [[String]]?
    /// Entry only: how its lookups hedge, the model's own `hedging:` (nil: `HedgingPolicy.default`).
    public var hedging: HedgingPolicy?

    public init(
        role: Role, model: String, shard: Int?, shards: Int, scheme: ShardingPolicy.Scheme, tables: [String],
        shardAddresses: [[String]]? = nil, hedging: HedgingPolicy? = nil
    ) {
        (self.role, self.model, self.shard, self.shards, self.scheme, self.tables) = (role, model, shard, shards, scheme, tables)
        (self.shardAddresses, self.hedging) = (shardAddresses, hedging)
    }

    public func digest(version: Int) -> String {
        ShardingPolicy.digest(model: model, version: version, scheme: scheme, shards: shards, tables: tables)
    }

    /// The same part without what may change while it is loaded (addresses, hedging): what must match for a loaded
    /// part to be the one asked for.
    public var content: ShardedPart {
        var copy = self
        (copy.shardAddresses, copy.hedging) = (nil, nil)
        return copy
    }

    enum CodingKeys: String, CodingKey { case role, model, shard, shards, scheme, tables, shardAddresses, hedging }

    /// Checked as hostile input: counts bounded before anything is sized by them.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            role: try c.decode(Role.self, forKey: .role), model: try c.decode(String.self, forKey: .model),
            shard: try c.decodeIfPresent(Int.self, forKey: .shard), shards: try c.decode(Int.self, forKey: .shards),
            scheme: try c.decode(ShardingPolicy.Scheme.self, forKey: .scheme), tables: try c.decode([String].self, forKey: .tables),
            shardAddresses: try c.decodeIfPresent([[String]].self, forKey: .shardAddresses),
            hedging: try c.decodeIfPresent(HedgingPolicy.self, forKey: .hedging)
        )
        guard ModelName.isValid(model) else {
            throw DecodingError.dataCorruptedError(forKey: .model, in: c, debugDescription: "invalid model name \(ModelName.quoted(model))")
        }
        guard ShardingPolicy.shardLimit.contains(shards) else {
            throw DecodingError.dataCorruptedError(forKey: .shards, in: c, debugDescription: "shards must be within \(ShardingPolicy.shardLimit), got \(shards)")
        }
        let shardIsValid = role == .entry ? shard == nil : shard.map { (0..<shards).contains($0) } ?? false
        guard shardIsValid else {
            throw DecodingError.dataCorruptedError(forKey: .shard, in: c, debugDescription: role == .ps ? "a PS part needs a shard in 0..<\(shards)" : "an entry has no shard")
        }
        guard ShardingPolicy.tableLimit.contains(tables.count), tables.allSatisfy({ DesiredState.Limits.nameLength.contains($0.utf8.count) }) else {
            throw DecodingError.dataCorruptedError(forKey: .tables, in: c, debugDescription: "list 1-\(ShardingPolicy.tableLimit.upperBound) tables, each named in 1-255 bytes")
        }
        if let shardAddresses {
            guard shardAddresses.count == shards, shardAddresses.allSatisfy({ $0.count <= DesiredState.Limits.replicas.upperBound }),
                  shardAddresses.joined().allSatisfy({ DesiredState.Limits.nameLength.contains($0.utf8.count) }) else {
                throw DecodingError.dataCorruptedError(forKey: .shardAddresses, in: c, debugDescription: "give one list of at most \(DesiredState.Limits.replicas.upperBound) addresses per shard (\(shards))")
            }
        }
    }
}
