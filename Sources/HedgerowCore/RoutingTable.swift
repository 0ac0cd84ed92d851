/// What the synchronizer publishes to routers (`GET /v1/routes?after=N`).
///
/// Invariants: `generation` only grows for a given synchronizer run; every address listed for a version is a
/// replica that reported AVAILABLE; `labels` and `defaultVersion` name versions present in `versions` or the model
/// is absent from the table. Routers may keep a table on disk and serve from it while the synchronizer is away.
public struct RoutingTable: Sendable, Equatable, Codable {
    public var generation: Int
    public var models: [String: ModelRoutes]

    public init(generation: Int, models: [String: ModelRoutes]) {
        self.generation = generation
        self.models = models
    }

    public static let empty = RoutingTable(generation: 0, models: [:])

    /// The replica pool of one model.
    public struct ModelRoutes: Sendable, Equatable, Codable {
        /// Version number (decimal string, as in JSON object keys) → replica addresses `host:port`.
        public var versions: [String: [String]]
        public var labels: [String: Int]
        /// The version served when a request names none: the highest routable version.
        public var defaultVersion: Int?
        public var hedging: HedgingPolicy
        /// Replica address → the zone of its worker, so that a router sends backups to another zone first.
        /// May be empty (tables from older synchronizers); routers then tell hosts apart by address.
        public var zones: [String: String]

        enum CodingKeys: String, CodingKey {
            case versions, labels
            case defaultVersion = "default"
            case hedging, zones
        }

        public init(versions: [String: [String]], labels: [String: Int], defaultVersion: Int?, hedging: HedgingPolicy, zones: [String: String] = [:]) {
            self.versions = versions
            self.labels = labels
            self.defaultVersion = defaultVersion
            self.hedging = hedging
            self.zones = zones
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            versions = try c.decode([String: [String]].self, forKey: .versions)
            labels = try c.decode([String: Int].self, forKey: .labels)
            defaultVersion = try c.decodeIfPresent(Int.self, forKey: .defaultVersion)
            hedging = try c.decode(HedgingPolicy.self, forKey: .hedging)
            zones = try c.decodeIfPresent([String: String].self, forKey: .zones) ?? [:]
        }

        public func replicas(of version: ModelVersion) -> [String] { versions[version.description] ?? [] }
    }

    /// Resolves what a request named (a version, a label or nothing) to a version with at least one replica.
    public func resolve(model: ModelName, selector: VersionSelector) throws(HedgerowError) -> (ModelVersion, [String]) {
        guard let routes = models[model.rawValue] else {
            throw HedgerowError(.notFound, "model '\(model)' is not served here")
        }
        let version: ModelVersion
        switch selector {
        case .latest:
            guard let d = routes.defaultVersion, let v = try? ModelVersion(d) else {
                throw HedgerowError(.unavailable, "model '\(model)' has no available version right now")
            }
            version = v
        case .version(let v):
            version = v
        case .label(let label):
            guard let n = routes.labels[label], let v = try? ModelVersion(n) else {
                throw HedgerowError(.notFound, "model '\(model)' has no label '\(label)'")
            }
            version = v
        }
        let replicas = routes.replicas(of: version)
        guard !replicas.isEmpty else {
            if routes.versions[version.description] == nil, case .version = selector {
                throw HedgerowError(.notFound, "model '\(model)' has no version \(version)")
            }
            throw HedgerowError(.unavailable, "model '\(model)' version \(version) has no available replica right now")
        }
        return (version, replicas)
    }
}
