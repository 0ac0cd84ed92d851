import HedgerowCore

/// Decides which workers hold which model versions. Pure and deterministic: the same inputs give the same plan.
///
/// Rules, in order: replicas of one version go to distinct live workers; pinned models only to their pins;
/// replicas that already exist (in the previous plan or loaded on a worker) stay where they are, so that an edit
/// to one model never moves another; new replicas go to the eligible worker with the fewest replicas (in a zone
/// the version does not use yet, with `spreadBy: zone`), ties broken by name. What cannot be placed is reported.
public enum PlacementPlanner {
    public struct Worker: Sendable, Equatable {
        public var name: String
        public var zone: String
        public init(name: String, zone: String) {
            self.name = name
            self.zone = zone
        }
    }

    public struct Demand: Sendable, Equatable {
        public var id: ModelVersionID
        public var replicas: Int
        public var placement: DesiredState.Placement
        public init(id: ModelVersionID, replicas: Int, placement: DesiredState.Placement) {
            self.id = id
            self.replicas = replicas
            self.placement = placement
        }
    }

    public struct Plan: Sendable, Equatable {
        /// Model version → worker names, sorted.
        public var assignments: [ModelVersionID: [String]]
        /// Model version → why it has fewer replicas than asked.
        public var problems: [ModelVersionID: String]

        public init(assignments: [ModelVersionID: [String]], problems: [ModelVersionID: String]) {
            self.assignments = assignments
            self.problems = problems
        }
    }

    /// - Parameters:
    ///   - demands: what the desired state asks for.
    ///   - workers: live workers only.
    ///   - previous: the last plan (placements to keep first).
    ///   - loaded: where versions are loaded now (placements to keep next: a restarted synchronizer adopts them).
    public static func plan(
        demands: [Demand], workers: [Worker], previous: [ModelVersionID: [String]], loaded: [ModelVersionID: Set<String>]
    ) -> Plan {
        let byName = Dictionary(workers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var load: [String: Int] = [:]
        var assignments: [ModelVersionID: [String]] = [:]
        var problems: [ModelVersionID: String] = [:]
        let sorted = demands.sorted { $0.id < $1.id }

        // First pass: keep what exists, so loads are counted before any new replica is placed.
        var kept: [ModelVersionID: [String]] = [:]
        for demand in sorted {
            let eligible = eligibleNames(demand, byName)
            let before = previous[demand.id] ?? []
            let existing = before + (loaded[demand.id] ?? []).sorted().filter { !before.contains($0) }
            let keep = Array(existing.filter { eligible.contains($0) }.prefix(demand.replicas))
            kept[demand.id] = keep
            for name in keep { load[name, default: 0] += 1 }
        }
        // Second pass: fill what is missing.
        for demand in sorted {
            var chosen = kept[demand.id] ?? []
            let eligible = eligibleNames(demand, byName)
            while chosen.count < demand.replicas {
                let usedZones = Set(chosen.compactMap { byName[$0]?.zone })
                let candidates = workers.filter { eligible.contains($0.name) && !chosen.contains($0.name) }
                guard let best = candidates.min(by: { a, b in
                    let spreadA = demand.placement == .spreadByZone && usedZones.contains(a.zone) ? 1 : 0
                    let spreadB = demand.placement == .spreadByZone && usedZones.contains(b.zone) ? 1 : 0
                    return (spreadA, load[a.name] ?? 0, a.name) < (spreadB, load[b.name] ?? 0, b.name)
                }) else {
                    problems[demand.id] = "\(demand.id): needs \(demand.replicas) replicas, \(chosen.count) \(chosen.count == 1 ? "worker fits" : "workers fit")" + reason(demand, eligible: eligible.count)
                    break
                }
                chosen.append(best.name)
                load[best.name, default: 0] += 1
            }
            assignments[demand.id] = chosen.sorted()
        }
        return Plan(assignments: assignments, problems: problems)
    }

    private static func eligibleNames(_ demand: Demand, _ byName: [String: Worker]) -> Set<String> {
        switch demand.placement {
        case .pinned(let names): Set(names.filter { byName[$0] != nil })
        case .any, .spreadByZone: Set(byName.keys)
        }
    }

    private static func reason(_ demand: Demand, eligible: Int) -> String {
        if case .pinned(let names) = demand.placement { return " (pinned to \(names.joined(separator: ", ")); \(eligible) of them alive)" }
        return " (\(eligible) live workers)"
    }
}
