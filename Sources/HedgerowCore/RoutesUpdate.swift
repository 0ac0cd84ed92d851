/// `GET /v1/routes?after=N&delta=1`: what a router needs to move from generation N to the current one.
///
/// A delta (`after` present) holds only the models whose routes changed since generation `after`, and the names of
/// those removed; the synchronizer answers one when it still holds the history from `after` (a bounded ring of
/// recent changes), else the whole table (`after` absent). A router applies a delta only onto the very generation it
/// names, atomically, or asks again from 0: a router that missed changes, or a restarted synchronizer (whose new run
/// has no history), always gets a whole table. A poll without `delta=1` (older routers) gets a whole `RoutingTable`,
/// which decodes as an update without `after`.
public struct RoutesUpdate: Sendable, Equatable, Codable {
    public var generation: Int
    public var after: Int?
    public var models: [String: RoutingTable.ModelRoutes]
    public var removed: [String]?

    public init(generation: Int, after: Int?, models: [String: RoutingTable.ModelRoutes], removed: [String]? = nil) {
        (self.generation, self.after, self.models, self.removed) = (generation, after, models, removed)
    }

    /// The whole table.
    public init(_ table: RoutingTable) { self.init(generation: table.generation, after: nil, models: table.models) }

    public var isDelta: Bool { after != nil }

    /// The table this update makes of `table`: nil for a delta from another generation than `table`'s.
    public func applied(to table: RoutingTable) -> RoutingTable? {
        guard let after else { return RoutingTable(generation: generation, models: models) }
        guard after == table.generation else { return nil }
        var merged = table.models
        for name in removed ?? [] { merged[name] = nil }
        merged.merge(models) { _, new in new }
        return RoutingTable(generation: generation, models: merged)
    }

    enum CodingKeys: String, CodingKey { case generation, after, models, removed }

    /// Checked as `RoutingTable` is (every model's routes by `ModelRoutes.init(from:)`), and the removed names too.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        generation = try c.decode(Int.self, forKey: .generation)
        after = try c.decodeIfPresent(Int.self, forKey: .after)
        models = try c.decode([String: RoutingTable.ModelRoutes].self, forKey: .models)
        removed = try c.decodeIfPresent([String].self, forKey: .removed)
        guard generation >= 0, (after ?? 0) >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .generation, in: c, debugDescription: "generations must be ≥ 0")
        }
        if let bad = models.keys.first(where: { !ModelName.isValid($0) }) ?? removed?.first(where: { !ModelName.isValid($0) }) {
            throw DecodingError.dataCorruptedError(forKey: .models, in: c, debugDescription: "'\(bad.prefix(140))' is not a valid model name")
        }
        if removed != nil && after == nil {
            throw DecodingError.dataCorruptedError(forKey: .removed, in: c, debugDescription: "only a delta (with 'after') removes models")
        }
    }
}
