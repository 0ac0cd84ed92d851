import HedgerowCore

/// Says, in words an operator can act on, what changed between two plans and why: one line per model version
/// that changed (`moving digits v1 from w2 to w3: w2 dead`). Pure, so that the synchronizer logs each decision
/// once, when the plan changes, and tests can read the reasons.
public enum PlacementDecisions {
    public struct Context: Sendable {
        /// The model specs of the desired state in force, by name.
        public var specs: [ModelName: DesiredState.ModelSpec]
        /// Workers alive now.
        public var alive: Set<String>
        /// Where each version is loaded now (a first plan adopts these).
        public var loaded: [ModelVersionID: Set<String>]
        /// PS part names (`<model>.ps-<k>`) → the sharded model whose spec their decisions read.
        var partOwners: [ModelName: ModelName]

        public init(specs: [ModelName: DesiredState.ModelSpec], alive: Set<String>, loaded: [ModelVersionID: Set<String>]) {
            self.init(specs: specs, alive: alive, loaded: loaded, partOwners: [:])
        }

        init(specs: [ModelName: DesiredState.ModelSpec], alive: Set<String>, loaded: [ModelVersionID: Set<String>], partOwners: [ModelName: ModelName]) {
            self.partOwners = partOwners
            self.specs = specs
            self.alive = alive
            self.loaded = loaded
        }
    }

    public static func explain(from old: PlacementPlanner.Plan, to new: PlacementPlanner.Plan, context: Context) -> [String] {
        var lines: [String] = []
        let ids = Set(old.assignments.keys).union(new.assignments.keys).sorted()
        for id in ids {
            let before = Set(old.assignments[id] ?? []), after = Set(new.assignments[id] ?? [])
            guard before != after else { continue }
            let added = after.subtracting(before).sorted(), removed = before.subtracting(after).sorted()
            let owner = context.specs[id.model] == nil ? context.partOwners[id.model] : nil
            let spec = context.specs[id.model] ?? owner.flatMap { context.specs[$0] }
            let shard = owner != nil && spec != nil
            if old.assignments[id] == nil {
                let loadedThere = context.loaded[id] ?? []
                if !loadedThere.isEmpty && Set(added).isSubset(of: loadedThere) {
                    lines.append("adopting \(id) on \(list(added)): already loaded there")
                } else {
                    lines.append("placing \(id) on \(list(added)): \(spec == nil ? "planned" : "version desired by \(describe(spec!.versions))")")
                }
            } else if after.isEmpty {
                let why = spec == nil ? "\(id.model) left the desired state" : "no longer desired (\(describe(spec!.versions)))"
                lines.append("retiring \(id) from \(list(removed)): \(why)\(shard ? "; its rows stay loaded until the version's entries drain" : "")")
            } else if !added.isEmpty && !removed.isEmpty {
                lines.append("moving \(id) from \(list(removed)) to \(list(added)): \(reasons(removed, spec, context, shrunk: false))")
            } else if !added.isEmpty {
                let why = before.contains(where: { !context.alive.contains($0) }) ? "replacing a lost replica"
                    : "\(after.count) of \((shard ? spec?.sharding?.replicas : spec?.replicas) ?? after.count) replicas wanted"
                lines.append("adding \(id) on \(list(added)): \(why)")
            } else {
                lines.append("removing \(id) from \(list(removed)): \(reasons(removed, spec, context, shrunk: true))")
            }
        }
        for (id, problem) in new.problems.sorted(by: { $0.key < $1.key }) where old.problems[id] != problem {
            lines.append("cannot place every replica: \(problem)")
        }
        for id in old.problems.keys.sorted() where new.problems[id] == nil && new.assignments[id] != nil {
            lines.append("\(id): every replica placed again")
        }
        return lines
    }

    private static func reasons(_ removed: [String], _ spec: DesiredState.ModelSpec?, _ context: Context, shrunk: Bool) -> String {
        removed.map { worker in
            if !context.alive.contains(worker) { return "\(worker) dead" }
            if case .pinned(let pins)? = spec?.placement, !pins.contains(worker) { return "\(worker) not among the pinned workers \(list(pins))" }
            if let spec, shrunk { return "\(spec.replicas) replica\(spec.replicas == 1 ? "" : "s") wanted now" }
            return "\(worker) over its memory capacity or the zones changed"
        }.joined(separator: "; ")
    }

    private static func describe(_ versions: DesiredState.VersionPolicy) -> String {
        switch versions {
        case .latest(let n): "latest: \(n)"
        case .specific(let list): "specific: \(list.map(\.number))"
        }
    }

    private static func list(_ names: [String]) -> String { names.joined(separator: ", ") }
}
