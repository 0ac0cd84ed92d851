import HedgerowCore
import HedgerowSynchronizer
import Testing

@Suite struct PlacementDecisionsTests {
    let v1 = ModelVersionID(model: try! ModelName("digits"), version: try! ModelVersion(1))
    let v2 = ModelVersionID(model: try! ModelName("digits"), version: try! ModelVersion(2))

    func spec(replicas: Int = 2, placement: DesiredState.Placement = .any, versions: DesiredState.VersionPolicy = .latest(1)) -> DesiredState.ModelSpec {
        DesiredState.ModelSpec(name: v1.model, versions: versions, labels: [:], replicas: replicas, placement: placement, hedging: .default, batching: .default)
    }

    func explain(_ old: [ModelVersionID: [String]], _ new: [ModelVersionID: [String]], spec: DesiredState.ModelSpec? = nil,
                 alive: Set<String> = ["w1", "w2", "w3"], loaded: [ModelVersionID: Set<String>] = [:], problems: [ModelVersionID: String] = [:]) -> [String] {
        let specs = [v1.model: spec ?? self.spec()]
        return PlacementDecisions.explain(from: .init(assignments: old, problems: [:]), to: .init(assignments: new, problems: problems),
                                          context: .init(specs: specs, alive: alive, loaded: loaded))
    }

    @Test func aDeadWorkersReplicaMovesWithThatReason() {
        #expect(explain([v1: ["w1", "w2"]], [v1: ["w1", "w3"]], alive: ["w1", "w3"]) == ["moving digits v1 from w2 to w3: w2 dead"])
    }

    @Test func aPinEditNamesThePins() {
        let lines = explain([v1: ["w1", "w2"]], [v1: ["w2", "w3"]], spec: spec(placement: .pinned(["w2", "w3"])))
        #expect(lines == ["moving digits v1 from w1 to w3: w1 not among the pinned workers w2, w3"])
    }

    @Test func aRolloutPlacesTheNewVersionAndRetiresTheOld() {
        let lines = explain([v1: ["w1", "w2"]], [v2: ["w2", "w3"]])
        #expect(lines == ["retiring digits v1 from w1, w2: no longer desired (latest: 1)", "placing digits v2 on w2, w3: version desired by latest: 1"])
    }

    @Test func aFirstPlanAdoptsWhatIsLoaded() {
        #expect(explain([:], [v1: ["w1", "w2"]], loaded: [v1: ["w1", "w2"]]) == ["adopting digits v1 on w1, w2: already loaded there"])
    }

    @Test func replicaCountChangesAndProblemsAreSaid() {
        #expect(explain([v1: ["w1", "w2"]], [v1: ["w1"]], spec: spec(replicas: 1)) == ["removing digits v1 from w2: 1 replica wanted now"])
        #expect(explain([v1: ["w1"]], [v1: ["w1", "w2"]]) == ["adding digits v1 on w2: 2 of 2 replicas wanted"])
        let problem = "digits v1: needs 3 replicas, 2 workers fit"
        #expect(explain([v1: ["w1", "w2"]], [v1: ["w1", "w2"]], spec: spec(replicas: 3), problems: [v1: problem]) == ["cannot place every replica: \(problem)"])
    }

    @Test func anUnchangedPlanSaysNothing() {
        #expect(explain([v1: ["w1", "w2"]], [v1: ["w1", "w2"]]).isEmpty)
    }
}
