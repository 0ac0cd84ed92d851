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

    enum CodingKeys: String, CodingKey { case generation, models }

    /// Decodes and checks the invariants above, so a router never serves from a table a synchronizer could not
    /// have published: a non-negative generation, valid model names, and valid routes for each (see
    /// `ModelRoutes.init(from:)`). A table from a corrupt disk cache or a hostile peer is refused whole, with the
    /// model it failed on.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        generation = try c.decode(Int.self, forKey: .generation)
        guard generation >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .generation, in: c, debugDescription: "generation must be ≥ 0, got \(generation)")
        }
        models = try c.decode([String: ModelRoutes].self, forKey: .models)
        if let bad = models.keys.first(where: { !ModelName.isValid($0) }) {
            throw DecodingError.dataCorruptedError(forKey: .models, in: c, debugDescription: "'\(bad.prefix(140))' is not a valid model name")
        }
    }

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
        /// The model's sampled inference log, if the desired state asks for one (absent in older tables).
        public var logging: InferenceLogPolicy?
        /// Present only while the canary version has a replica in `versions`.
        public var canary: CanaryPolicy?

        enum CodingKeys: String, CodingKey {
            case versions, labels
            case defaultVersion = "default"
            case hedging, zones, logging, canary
        }

        public init(
            versions: [String: [String]], labels: [String: Int], defaultVersion: Int?, hedging: HedgingPolicy, zones: [String: String] = [:],
            logging: InferenceLogPolicy? = nil, canary: CanaryPolicy? = nil
        ) {
            self.canary = canary
            self.versions = versions
            self.labels = labels
            self.defaultVersion = defaultVersion
            self.hedging = hedging
            self.zones = zones
            self.logging = logging
        }

        /// Decodes and checks: version keys are positive decimal versions, every replica is `host:port`, labels and
        /// the default name listed versions, hedge delays and the deadline are within `DesiredState.Limits`
        /// (a router turns them into nanoseconds), and zone names are short.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            versions = try c.decode([String: [String]].self, forKey: .versions)
            labels = try c.decode([String: Int].self, forKey: .labels)
            defaultVersion = try c.decodeIfPresent(Int.self, forKey: .defaultVersion)
            hedging = try c.decode(HedgingPolicy.self, forKey: .hedging)
            zones = try c.decodeIfPresent([String: String].self, forKey: .zones) ?? [:]
            logging = try c.decodeIfPresent(InferenceLogPolicy.self, forKey: .logging)
            canary = try c.decodeIfPresent(CanaryPolicy.self, forKey: .canary)
            func refuse(_ key: CodingKeys, _ message: String) -> DecodingError {
                DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: message)
            }
            for (key, addresses) in versions {
                guard (try? ModelVersion(parsing: Substring(key))) != nil else { throw refuse(.versions, "version '\(key.prefix(40))' is not a positive integer") }
                if let bad = addresses.first(where: { !Self.isAddress($0) }) {
                    throw refuse(.versions, "version \(key): '\(bad.prefix(300))' is not HOST:PORT")
                }
            }
            for (label, version) in labels {
                guard ModelName.isValid(label) else { throw refuse(.labels, "'\(label.prefix(140))' is not a valid label") }
                guard versions[String(version)] != nil else { throw refuse(.labels, "label '\(label)' names version \(version), which the table does not list") }
            }
            if let canary, versions[String(canary.version)] == nil {
                throw refuse(.canary, "canary version \(canary.version) is not listed")
            }
            if let defaultVersion, versions[String(defaultVersion)] == nil {
                throw refuse(.defaultVersion, "default version \(defaultVersion) is not listed")
            }
            let ms = DesiredState.Limits.milliseconds
            guard ms.contains(hedging.minDelayMs), ms.contains(hedging.maxDelayMs), hedging.timeoutMs.map(ms.contains) ?? true else {
                throw refuse(.hedging, "hedge delays and timeoutMs must be at most \(ms.upperBound) ms")
            }
            if let bad = zones.first(where: { !Self.isAddress($0.key) || !DesiredState.Limits.nameLength.contains($0.value.utf8.count) }) {
                throw refuse(.zones, "zone entry '\(bad.key.prefix(300))': '\(bad.value.prefix(300))' needs a HOST:PORT key and a zone of 1-255 bytes")
            }
        }

        /// `host:port` or `[v6]:port`, port 0-65535, at most 300 bytes: what a router can dial.
        static func isAddress(_ text: String) -> Bool {
            guard text.utf8.count <= 300, let colon = text.lastIndex(of: ":") else { return false }
            let host = text[..<colon], port = text[text.index(after: colon)...]
            guard !host.isEmpty, !port.isEmpty, port.count <= 5, port.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let number = Int(port) else { return false }
            return number <= 65535
        }

        public func replicas(of version: ModelVersion) -> [String] { versions[version.description] ?? [] }
    }

    /// Resolves what a request named (a version, a label or nothing) to a version with at least one replica.
    public func resolve(model: ModelName, selector: VersionSelector) throws(HedgerowError) -> (ModelVersion, [String]) {
        guard let routes = models[model.rawValue] else {
            throw HedgerowError(.notFound, "model '\(model)' is not served here")
        }
        guard !routes.versions.isEmpty else {
            throw HedgerowError(.unavailable, "model '\(model)' has no replica up right now (it is being placed again); retry shortly")
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
