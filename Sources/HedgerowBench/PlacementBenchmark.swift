import Foundation
import HedgerowCore
import HedgerowSynchronizer

/// The placement benchmark: plans a synthetic fleet from scratch, then replans after a one-model edit, and
/// reports the time of each and how many other model versions the edit moved (the answer must be 0).
///
/// The fleet: `workers` workers in three zones with `workerMemoryMB` each; `models` model versions of 10-500 MB
/// (a fixed pseudo-random sequence, so runs compare), `replicas` each, a third of them spread by zone.
public struct PlacementBenchmark {
    public struct Result: Sendable {
        public var models: Int
        public var workers: Int
        public var replicasPlaced: Int
        public var replicasAsked: Int
        public var fullPlanSeconds: Double
        /// The edit named to the kept planner state (`PlacementState.apply`): what the synchronizer's planning costs
        /// once it knows the edited model.
        public var editPlanSeconds: Double
        /// The same edit found by comparing every demand with the last ones (`PlacementState.replan`): what a
        /// reconcile round that rebuilds its demands pays.
        public var editReplanSeconds: Double
        /// The same edit as a full plan that keeps the previous placements (`PlacementPlanner.plan`), as before the
        /// planner kept its state.
        public var statelessEditSeconds: Double
        /// Whether `replan` found the plan `apply` made (must be true).
        public var replanAgrees: Bool
        /// Model versions other than the edited one whose assignment changed (must be 0).
        public var othersMoved: Int
        /// Replicas the edited model gained.
        public var editedGained: Int
    }

    public var models = 10_000
    public var workers = 1_000
    public var replicas = 2
    public var workerMemoryMB = 64 * 1024

    public init(models: Int, workers: Int, replicas: Int, workerMemoryMB: Int) {
        self.models = models
        self.workers = workers
        self.replicas = replicas
        self.workerMemoryMB = workerMemoryMB
    }

    public func run() -> Result {
        var seed: UInt64 = 42
        func next(_ range: ClosedRange<Int>) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return range.lowerBound + Int((seed >> 33) % UInt64(range.count))
        }
        let zones = ["a", "b", "c"]
        let fleet = (0..<workers).map { i in
            PlacementPlanner.Worker(name: String(format: "w%05d", i), zone: zones[i % 3], capacityBytes: workerMemoryMB << 20)
        }
        let demands = (0..<models).map { i in
            PlacementPlanner.Demand(
                id: ModelVersionID(model: try! ModelName(String(format: "model-%05d", i)), version: try! ModelVersion(1)),
                replicas: replicas, placement: i % 3 == 0 ? .spreadByZone : .any, memoryBytes: next(10...500) << 20
            )
        }
        var clock = ContinuousClock.now
        var state = PlacementState(demands: demands, workers: fleet)
        let fullPlan = ContinuousClock.now - clock
        // A copy with storage of its own: sharing the state's would make the edit below copy every assignment.
        let first = PlacementPlanner.Plan(
            assignments: Dictionary(uniqueKeysWithValues: state.plan.assignments.map { ($0.key, $0.value) }), problems: state.plan.problems
        )

        var edited = demands
        let target = models / 2
        edited[target].replicas += 1
        clock = ContinuousClock.now
        state.apply(changed: [edited[target]], removed: [])
        let editPlan = ContinuousClock.now - clock
        let second = state.plan

        var diffing = PlacementState(demands: demands, workers: fleet)
        clock = ContinuousClock.now
        diffing.replan(demands: edited, workers: fleet, loaded: [:])
        let editReplan = ContinuousClock.now - clock

        clock = ContinuousClock.now
        let stateless = PlacementPlanner.plan(demands: edited, workers: fleet, previous: first.assignments, loaded: [:])
        let statelessEdit = ContinuousClock.now - clock
        _ = stateless

        let editedID = demands[target].id
        let othersMoved = demands.filter { $0.id != editedID && first.assignments[$0.id] != second.assignments[$0.id] }.count
        return Result(
            models: models, workers: workers,
            replicasPlaced: first.assignments.values.reduce(0) { $0 + $1.count }, replicasAsked: models * replicas,
            fullPlanSeconds: fullPlan.inSeconds, editPlanSeconds: editPlan.inSeconds,
            editReplanSeconds: editReplan.inSeconds, statelessEditSeconds: statelessEdit.inSeconds, replanAgrees: diffing.plan == second,
            othersMoved: othersMoved,
            editedGained: (second.assignments[editedID]?.count ?? 0) - (first.assignments[editedID]?.count ?? 0)
        )
    }
}
