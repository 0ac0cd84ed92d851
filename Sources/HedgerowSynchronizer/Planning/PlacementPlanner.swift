import HedgerowCore

/// Decides which workers hold which model versions. Pure and deterministic: the same inputs give the same plan,
/// whatever the order of `demands` and `workers`.
///
/// Rules, in order: replicas of one version go to distinct live workers; pinned models only to their pins; no
/// worker holds more model memory than its capacity; replicas that already exist (in the previous plan or loaded
/// on a worker) stay where they are while they fit, so that an edit to one model never moves another; new
/// replicas go, among the workers with room, to one in a zone the version does not use yet (with
/// `spreadBy: zone`), then to the one with the smallest share of its memory used, then with the fewest replicas,
/// ties broken by name. What cannot be placed is reported with the reason.
///
/// Cost: the workers wait in a heap ordered by that preference (zones aside), so a new replica of an unpinned
/// version costs O(k log W) for the k heap entries looked at before the best one that fits, is not yet chosen and
/// (with `spreadBy: zone`) is in an unused zone; k is 1 in the common case. A full plan is O(R log W + V log V)
/// for R replicas of V versions over W workers, instead of the O(R × W) of scanning every worker per replica
/// (Benchmarks/placement: 100,000 versions × 2 replicas over 10,000 workers). Pinned versions scan their pins.
/// The heap's order is `isBetter`'s, so the plan is exactly the one a scan would choose. The synchronizer keeps a
/// `PlacementState` between rounds, so that a one-model edit costs that model's replicas instead of a full plan.
public enum PlacementPlanner {
    public struct Worker: Sendable, Equatable {
        public var name: String
        public var zone: String
        /// Memory for models, bytes.
        public var capacityBytes: Int
        public init(name: String, zone: String, capacityBytes: Int = .max) {
            self.name = name
            self.zone = zone
            self.capacityBytes = capacityBytes
        }
    }

    public struct Demand: Sendable, Equatable {
        public var id: ModelVersionID
        public var replicas: Int
        public var placement: DesiredState.Placement
        /// Memory one replica takes, bytes: measured by a worker after load, estimated from the file before.
        public var memoryBytes: Int
        public init(id: ModelVersionID, replicas: Int, placement: DesiredState.Placement, memoryBytes: Int = 0) {
            self.id = id
            self.replicas = replicas
            self.placement = placement
            self.memoryBytes = memoryBytes
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
        PlacementState(demands: demands, workers: workers, previous: previous, loaded: loaded).plan
    }

    static func problem(_ demand: Demand, placed: Int, eligible: Int, full: Int) -> String {
        var text = "\(demand.id): needs \(demand.replicas) replicas, \(placed) \(placed == 1 ? "worker fits" : "workers fit")"
        if case .pinned(let names) = demand.placement {
            text += " (pinned to \(names.joined(separator: ", ")); \(eligible) of them alive"
        } else {
            text += " (\(eligible) live workers"
        }
        if full > 0 { text += "; \(full) without \(megabytes(demand.memoryBytes)) MB free" }
        return text + ")"
    }

    private static func megabytes(_ bytes: Int) -> Int { (bytes + (1 << 20) - 1) >> 20 }
}
