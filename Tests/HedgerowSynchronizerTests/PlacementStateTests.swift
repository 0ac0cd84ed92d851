import HedgerowCore
import HedgerowSynchronizer
import Testing

/// `PlacementState`'s edits over random fleets: after any sequence of edits the plan obeys every placement rule,
/// an edit moves no other version, and finding the edit by comparison (`replan`) gives what naming it does.
@Suite struct PlacementStateTests {
    typealias Random = PlacementPlannerPropertyTests.Random
    static let mb = 1 << 20

    /// Every rule a plan must keep, as messages naming what broke it.
    static func violations(_ plan: PlacementPlanner.Plan, demands: [PlacementPlanner.Demand], workers: [PlacementPlanner.Worker]) -> [String] {
        var found: [String] = []
        let byName = Dictionary(uniqueKeysWithValues: workers.map { ($0.name, $0) })
        var used: [String: Int] = [:]
        for demand in demands {
            let chosen = plan.assignments[demand.id] ?? []
            if Set(chosen).count != chosen.count { found.append("\(demand.id) twice on one worker: \(chosen)") }
            if chosen.count > demand.replicas { found.append("\(demand.id) has \(chosen.count) of \(demand.replicas) replicas") }
            if !chosen.allSatisfy({ byName[$0] != nil }) { found.append("\(demand.id) on a worker not in the fleet: \(chosen)") }
            if case .pinned(let pins) = demand.placement, !chosen.allSatisfy(pins.contains) { found.append("\(demand.id) off its pins") }
            if (plan.problems[demand.id] != nil) != (chosen.count < demand.replicas) { found.append("\(demand.id): problem not reported or stale") }
            for name in chosen { used[name, default: 0] += demand.memoryBytes }
        }
        let ids = Set(demands.map(\.id))
        if let stray = plan.assignments.keys.first(where: { !ids.contains($0) }) { found.append("\(stray) planned but not demanded") }
        for (name, bytes) in used where bytes > byName[name]?.capacityBytes ?? 0 { found.append("\(name) over capacity") }
        return found
    }

    /// One random edit of `demands`: scale, remove, add, resize, repin or roll out one version.
    static func edit(_ demands: inout [PlacementPlanner.Demand], _ r: inout Random, serial: Int) -> (changed: [PlacementPlanner.Demand], removed: [ModelVersionID]) {
        let target = demands.isEmpty ? 0 : r.int(0...(demands.count - 1))
        switch demands.isEmpty ? 2 : r.int(0...5) {
        case 0:
            demands[target].replicas = r.int(0...5)
            return ([demands[target]], [])
        case 1:
            let id = demands.remove(at: target).id
            return ([], [id])
        case 2:
            let added = PlacementPlanner.Demand(
                id: ModelVersionID(model: try! ModelName("new\(serial)"), version: try! ModelVersion(1)),
                replicas: r.int(1...4), placement: r.int(0...1) == 0 ? .any : .spreadByZone, memoryBytes: r.int(10...300) * mb
            )
            demands.append(added)
            return ([added], [])
        case 3:
            demands[target].memoryBytes = r.int(10...400) * mb
            return ([demands[target]], [])
        case 4:
            demands[target].placement = .pinned(["w\(r.int(0...12))", "w\(r.int(0...12))"])
            return ([demands[target]], [])
        default:
            // A rollout: one version replaced by the next, the count of versions unchanged.
            let old = demands[target].id
            demands[target].id = ModelVersionID(model: old.model, version: try! ModelVersion(old.version.number + 10 + serial))
            return ([demands[target]], [old])
        }
    }

    @Test(arguments: 0..<150 as Range<UInt64>)
    func editsKeepEveryRuleAndMoveNothingElse(seed: UInt64) {
        let c = PlacementPlannerPropertyTests.makeCase(seed: seed)
        var r = Random(state: seed ^ 0x5EED)
        var demands = c.demands
        var state = PlacementState(demands: demands, workers: c.workers)
        var compared = state, inOrder = state
        #expect(Self.violations(state.plan, demands: demands, workers: c.workers) == [], "seed \(seed): first plan")
        for step in 0..<12 {
            let before = state.plan
            let (changed, removed) = Self.edit(&demands, &r, serial: step)
            let touched = state.apply(changed: changed, removed: removed)
            compared.replan(demands: r.shuffled(demands), workers: r.shuffled(c.workers), loaded: [:])
            inOrder.replan(demands: demands, workers: c.workers, loaded: [:])
            #expect(Self.violations(state.plan, demands: demands, workers: c.workers) == [], "seed \(seed) step \(step)")
            #expect(compared.plan == state.plan, "seed \(seed) step \(step): replan found another edit than the one applied")
            #expect(inOrder.plan == state.plan, "seed \(seed) step \(step): replan in the same order found another edit")
            let edited = Set(changed.map(\.id)).union(removed)
            for demand in demands where !edited.contains(demand.id) {
                let was = Set(before.assignments[demand.id] ?? []), now = Set(state.plan.assignments[demand.id] ?? [])
                #expect(was.isSubset(of: now), "seed \(seed) step \(step): \(demand.id) moved by an edit to another version: \(was) → \(now)")
                #expect(was == now || before.problems[demand.id] != nil, "seed \(seed) step \(step): \(demand.id) grew without having been short")
                if was != now || before.problems[demand.id] != state.plan.problems[demand.id] {
                    #expect(touched.contains(demand.id), "seed \(seed) step \(step): \(demand.id) changed but was not reported")
                }
            }
        }
    }

    @Test func anUnchangedReplanTouchesNothing() {
        let c = PlacementPlannerPropertyTests.makeCase(seed: 7)
        var state = PlacementState(demands: c.demands, workers: c.workers)
        let plan = state.plan
        #expect(state.replan(demands: c.demands.reversed(), workers: c.workers.reversed(), loaded: [:]).isEmpty)
        #expect(state.plan == plan)
    }

    @Test func aReplanAfterANamedEditSeesTheDemandsAsTheyAre() {
        let c = PlacementPlannerPropertyTests.makeCase(seed: 11, unlimitedMemory: true)
        var state = PlacementState(demands: c.demands, workers: c.workers)
        let first = state.plan
        let extra = PlacementPlanner.Demand(id: ModelVersionID(model: try! ModelName("extra"), version: try! ModelVersion(1)), replicas: 1, placement: .any)
        state.apply(changed: [extra], removed: [])
        #expect(state.plan.assignments[extra.id]?.count == 1)
        // The same demands as the first plan, in the same order: `extra` is no longer demanded.
        #expect(state.replan(demands: c.demands, workers: c.workers, loaded: [:]).contains(extra.id))
        #expect(state.plan == first)
    }

    @Test func aRolloutReplacesTheVersionWhenTheCountStaysTheSame() {
        let workers = (0..<3).map { PlacementPlanner.Worker(name: "w\($0)", zone: "a") }
        let v1 = PlacementPlanner.Demand(id: ModelVersionID(model: try! ModelName("digits"), version: try! ModelVersion(1)), replicas: 2, placement: .any)
        var v2 = v1
        v2.id = ModelVersionID(model: v1.id.model, version: try! ModelVersion(2))
        var state = PlacementState(demands: [v1], workers: workers)
        #expect(state.replan(demands: [v2], workers: workers, loaded: [:]) == [v1.id, v2.id])
        #expect(state.plan.assignments[v1.id] == nil)
        #expect(state.plan.assignments[v2.id]?.count == 2)
    }

    @Test func aLostWorkerIsAFullPlanThatKeepsTheSurvivors() {
        let workers = (0..<4).map { PlacementPlanner.Worker(name: "w\($0)", zone: "a", capacityBytes: 1000 * Self.mb) }
        let demands = (0..<6).map {
            PlacementPlanner.Demand(id: ModelVersionID(model: try! ModelName("m\($0)"), version: try! ModelVersion(1)), replicas: 2, placement: .any, memoryBytes: 100 * Self.mb)
        }
        var state = PlacementState(demands: demands, workers: workers)
        let before = state.plan
        let survivors = Array(workers.dropFirst())
        let touched = state.replan(demands: demands, workers: survivors, loaded: [:])
        #expect(touched == Set(demands.map(\.id)))
        #expect(Self.violations(state.plan, demands: demands, workers: survivors) == [])
        for demand in demands {
            let kept = Set(before.assignments[demand.id] ?? []).subtracting(["w0"])
            #expect(kept.isSubset(of: Set(state.plan.assignments[demand.id] ?? [])), "\(demand.id) left a live worker")
            #expect(state.plan.assignments[demand.id]?.count == 2)
        }
    }

    @Test func memoryFreedByAnEditPlacesAVersionThatWasShort() {
        let workers = [PlacementPlanner.Worker(name: "w0", zone: "a", capacityBytes: 100 * Self.mb)]
        let big = PlacementPlanner.Demand(id: ModelVersionID(model: try! ModelName("big"), version: try! ModelVersion(1)), replicas: 1, placement: .any, memoryBytes: 80 * Self.mb)
        let late = PlacementPlanner.Demand(id: ModelVersionID(model: try! ModelName("late"), version: try! ModelVersion(1)), replicas: 1, placement: .any, memoryBytes: 50 * Self.mb)
        var state = PlacementState(demands: [big, late], workers: workers)
        #expect(state.plan.assignments[late.id] == [])
        #expect(state.plan.problems[late.id] == "late v1: needs 1 replicas, 0 workers fit (1 live workers; 1 without 50 MB free)")
        let touched = state.apply(changed: [], removed: [big.id])
        #expect(touched == [big.id, late.id])
        #expect(state.plan.assignments[late.id] == ["w0"])
        #expect(state.plan.problems.isEmpty)
        #expect(state.plan.assignments[big.id] == nil)
    }

    @Test func anEditedVersionKeepsItsReplicasWhileTheyFit() {
        let workers = (0..<3).map { PlacementPlanner.Worker(name: "w\($0)", zone: "a", capacityBytes: 100 * Self.mb) }
        var demand = PlacementPlanner.Demand(id: ModelVersionID(model: try! ModelName("m"), version: try! ModelVersion(1)), replicas: 2, placement: .any, memoryBytes: 40 * Self.mb)
        var state = PlacementState(demands: [demand], workers: workers)
        let first = state.plan.assignments[demand.id] ?? []
        demand.memoryBytes = 60 * Self.mb  // measured after load: larger, still fits
        state.apply(changed: [demand], removed: [])
        #expect(state.plan.assignments[demand.id] == first)
        demand.replicas = 3
        state.apply(changed: [demand], removed: [])
        #expect(Set(first).isSubset(of: Set(state.plan.assignments[demand.id] ?? [])))
        #expect(state.plan.assignments[demand.id]?.count == 3)
    }
}
