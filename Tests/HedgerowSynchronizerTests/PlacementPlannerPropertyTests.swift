import HedgerowCore
import HedgerowSynchronizer
import Testing

/// Properties of `PlacementPlanner` over random fleets and demands, from a seeded generator so a failure
/// reproduces: the seed of a failing case is in the message.
@Suite struct PlacementPlannerPropertyTests {
    static let mb = 1 << 20

    /// SplitMix64: small, fast, and the same sequence on every platform.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
        mutating func shuffled<T>(_ items: [T]) -> [T] {
            var items = items
            for i in items.indices.reversed() where i > 0 { items.swapAt(i, int(0...i)) }
            return items
        }
    }

    struct Case {
        var workers: [PlacementPlanner.Worker]
        var demands: [PlacementPlanner.Demand]
    }

    static func makeCase(seed: UInt64, unlimitedMemory: Bool = false) -> Case {
        var r = Random(state: seed)
        let zones = ["a", "b", "c"]
        let workers = (0..<r.int(1...12)).map { i in
            PlacementPlanner.Worker(name: "w\(i)", zone: zones[r.int(0...2)], capacityBytes: unlimitedMemory ? .max : r.int(100...1000) * mb)
        }
        let demands = (0..<r.int(1...30)).map { i -> PlacementPlanner.Demand in
            let placement: DesiredState.Placement
            switch r.int(0...3) {
            case 0: placement = .spreadByZone
            case 1: placement = .pinned(Array(Set((0..<r.int(1...3)).map { _ in "w\(r.int(0...14))" })).sorted())
            default: placement = .any
            }
            let id = ModelVersionID(model: try! ModelName("m\(i)"), version: try! ModelVersion(r.int(1...3)))
            return .init(id: id, replicas: r.int(1...4), placement: placement, memoryBytes: r.int(10...300) * mb)
        }
        return Case(workers: workers, demands: demands)
    }

    static func plan(_ c: Case, previous: [ModelVersionID: [String]] = [:]) -> PlacementPlanner.Plan {
        PlacementPlanner.plan(demands: c.demands, workers: c.workers, previous: previous, loaded: [:])
    }

    @Test(arguments: 0..<200 as Range<UInt64>)
    func everyPlanIsValid(seed: UInt64) {
        let c = Self.makeCase(seed: seed)
        let plan = Self.plan(c)
        let byName = Dictionary(uniqueKeysWithValues: c.workers.map { ($0.name, $0) })
        var used: [String: Int] = [:]
        for demand in c.demands {
            let chosen = plan.assignments[demand.id] ?? []
            #expect(Set(chosen).count == chosen.count, "seed \(seed): \(demand.id) twice on one worker")
            #expect(chosen.count <= demand.replicas)
            #expect(chosen.allSatisfy { byName[$0] != nil }, "seed \(seed): \(demand.id) on a worker not in the fleet")
            if case .pinned(let pins) = demand.placement {
                #expect(chosen.allSatisfy(pins.contains), "seed \(seed): \(demand.id) off its pins")
            }
            #expect((plan.problems[demand.id] != nil) == (chosen.count < demand.replicas), "seed \(seed): \(demand.id) problem not reported")
            for name in chosen { used[name, default: 0] += demand.memoryBytes }
        }
        for (name, bytes) in used {
            #expect(bytes <= byName[name]!.capacityBytes, "seed \(seed): \(name) over capacity")
        }
    }

    @Test(arguments: 0..<100 as Range<UInt64>)
    func zonesAreSpreadWhenMemoryAllows(seed: UInt64) {
        let c = Self.makeCase(seed: seed, unlimitedMemory: true)
        let plan = Self.plan(c)
        let zone = Dictionary(uniqueKeysWithValues: c.workers.map { ($0.name, $0.zone) })
        for demand in c.demands where demand.placement == .spreadByZone {
            let chosen = plan.assignments[demand.id] ?? []
            let zones = Set(c.workers.map(\.zone))
            #expect(Set(chosen.map { zone[$0]! }).count == min(chosen.count, zones.count), "seed \(seed): \(demand.id) not spread: \(chosen)")
        }
    }

    @Test(arguments: 0..<100 as Range<UInt64>)
    func theOrderOfInputsDoesNotMatter(seed: UInt64) {
        let c = Self.makeCase(seed: seed)
        var r = Random(state: seed ^ 0xFFFF)
        let shuffled = Case(workers: r.shuffled(c.workers), demands: r.shuffled(c.demands))
        #expect(Self.plan(shuffled) == Self.plan(c), "seed \(seed)")
    }

    @Test(arguments: 0..<200 as Range<UInt64>)
    func aSingleEditMovesNoOtherModel(seed: UInt64) {
        let c = Self.makeCase(seed: seed)
        let first = Self.plan(c)
        var r = Random(state: seed ^ 0xABCD)
        var edited = c
        let target = r.int(0...(c.demands.count - 1))
        switch r.int(0...2) {
        case 0: edited.demands[target].replicas = r.int(1...5)                // scale one model
        case 1: edited.demands.remove(at: target)                              // remove one model
        default: edited.demands.append(.init(id: ModelVersionID(model: try! ModelName("new"), version: try! ModelVersion(1)),
                                             replicas: r.int(1...4), placement: .any, memoryBytes: r.int(10...300) * Self.mb))  // add one
        }
        let second = Self.plan(edited, previous: first.assignments)
        let touched = edited.demands.count > c.demands.count ? nil : c.demands[target].id
        // Every other model keeps every replica it had; it may only gain replicas it was short of (memory freed).
        for demand in edited.demands where demand.id != touched && demand.id.model.rawValue != "new" {
            let before = Set(first.assignments[demand.id] ?? []), after = Set(second.assignments[demand.id] ?? [])
            #expect(before.isSubset(of: after), "seed \(seed): \(demand.id) moved by an edit to another model: \(before) → \(after)")
            #expect(before == after || first.problems[demand.id] != nil, "seed \(seed): \(demand.id) grew without having been short")
        }
    }

    @Test func aWorkerWithoutRoomIsNamedInTheProblem() {
        let workers = (1...3).map { PlacementPlanner.Worker(name: "w\($0)", zone: "a", capacityBytes: 100 * Self.mb) }
        let big = ModelVersionID(model: try! ModelName("big"), version: try! ModelVersion(1))
        let digits = ModelVersionID(model: try! ModelName("digits"), version: try! ModelVersion(2))
        let plan = PlacementPlanner.plan(
            demands: [.init(id: big, replicas: 1, placement: .pinned(["w1"]), memoryBytes: 50 * Self.mb),
                      .init(id: digits, replicas: 3, placement: .any, memoryBytes: 80 * Self.mb)],
            workers: workers, previous: [:], loaded: [:]
        )
        #expect(plan.assignments[digits] == ["w2", "w3"])
        #expect(plan.problems[digits] == "digits v2: needs 3 replicas, 2 workers fit (3 live workers; 1 without 80 MB free)")
    }
}
