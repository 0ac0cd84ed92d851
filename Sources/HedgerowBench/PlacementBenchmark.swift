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
        public var editPlanSeconds: Double
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
        let first = PlacementPlanner.plan(demands: demands, workers: fleet, previous: [:], loaded: [:])
        let fullPlan = ContinuousClock.now - clock

        var edited = demands
        let target = models / 2
        edited[target].replicas += 1
        clock = ContinuousClock.now
        let second = PlacementPlanner.plan(demands: edited, workers: fleet, previous: first.assignments, loaded: [:])
        let editPlan = ContinuousClock.now - clock

        let editedID = demands[target].id
        let othersMoved = demands.filter { $0.id != editedID && first.assignments[$0.id] != second.assignments[$0.id] }.count
        return Result(
            models: models, workers: workers,
            replicasPlaced: first.assignments.values.reduce(0) { $0 + $1.count }, replicasAsked: models * replicas,
            fullPlanSeconds: Self.seconds(fullPlan), editPlanSeconds: Self.seconds(editPlan),
            othersMoved: othersMoved,
            editedGained: (second.assignments[editedID]?.count ?? 0) - (first.assignments[editedID]?.count ?? 0)
        )
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
