import HedgerowCore
import HedgerowSynchronizer
import Testing

@Suite struct PlacementPlannerTests {
    func id(_ model: String, _ version: Int = 1) -> ModelVersionID {
        ModelVersionID(model: try! ModelName(model), version: try! ModelVersion(version))
    }

    let workers = [PlacementPlanner.Worker(name: "w1", zone: "a"), .init(name: "w2", zone: "a"), .init(name: "w3", zone: "b")]

    @Test func replicasGoToDistinctWorkersAndSpreadAcrossZones() {
        let plan = PlacementPlanner.plan(demands: [.init(id: id("m"), replicas: 2, placement: .spreadByZone)], workers: workers, previous: [:], loaded: [:])
        let chosen = plan.assignments[id("m")]!
        #expect(Set(chosen).count == 2)
        #expect(Set(chosen.map { name in workers.first { $0.name == name }!.zone }) == ["a", "b"])
    }

    @Test func balancesByReplicaCountAndIsDeterministic() {
        let demands = (1...6).map { PlacementPlanner.Demand(id: id("m\($0)"), replicas: 1, placement: .any) }
        let plan = PlacementPlanner.plan(demands: demands, workers: workers, previous: [:], loaded: [:])
        var perWorker: [String: Int] = [:]
        for names in plan.assignments.values { for n in names { perWorker[n, default: 0] += 1 } }
        #expect(perWorker == ["w1": 2, "w2": 2, "w3": 2])
        #expect(PlacementPlanner.plan(demands: demands.reversed(), workers: workers.reversed(), previous: [:], loaded: [:]) == plan)
    }

    @Test func anEditToOneModelMovesNoOther() {
        let demands = [PlacementPlanner.Demand(id: id("a"), replicas: 1, placement: .any), .init(id: id("b"), replicas: 1, placement: .any)]
        let first = PlacementPlanner.plan(demands: demands, workers: workers, previous: [:], loaded: [:])
        var edited = demands
        edited[0].replicas = 3
        let second = PlacementPlanner.plan(demands: edited, workers: workers, previous: first.assignments, loaded: [:])
        #expect(second.assignments[id("b")] == first.assignments[id("b")])
        #expect(second.assignments[id("a")]?.count == 3)
    }

    @Test func pinnedModelsMoveToTheirPins() {
        let previous = [id("m"): ["w1", "w2"]]
        let plan = PlacementPlanner.plan(demands: [.init(id: id("m"), replicas: 1, placement: .pinned(["w3"]))], workers: workers, previous: previous, loaded: [:])
        #expect(plan.assignments[id("m")] == ["w3"])
    }

    @Test func adoptsWhatIsLoadedAfterARestart() {
        let loaded: [ModelVersionID: Set<String>] = [id("m"): ["w3", "w2"]]
        let plan = PlacementPlanner.plan(demands: [.init(id: id("m"), replicas: 2, placement: .any)], workers: workers, previous: [:], loaded: loaded)
        #expect(plan.assignments[id("m")] == ["w2", "w3"])
    }

    @Test func reportsWhatCannotBePlaced() {
        let plan = PlacementPlanner.plan(demands: [.init(id: id("digits", 2), replicas: 4, placement: .any)], workers: workers, previous: [:], loaded: [:])
        #expect(plan.assignments[id("digits", 2)]?.count == 3)
        #expect(plan.problems[id("digits", 2)] == "digits v2: needs 4 replicas, 3 workers fit (3 live workers)")
    }

    @Test func deadWorkersLoseTheirReplicas() {
        let previous = [id("m"): ["w1", "w3"]]
        let alive = workers.filter { $0.name != "w1" }
        let plan = PlacementPlanner.plan(demands: [.init(id: id("m"), replicas: 2, placement: .any)], workers: alive, previous: previous, loaded: [:])
        #expect(plan.assignments[id("m")] == ["w2", "w3"])
    }
}
