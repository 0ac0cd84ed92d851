import HedgerowCore
import HedgerowSynchronizer
import Testing

/// The planner picks new replicas from a heap; this checks it picks exactly what the plain rule says, by comparing
/// whole plans with a scan of every worker per replica (the planner's previous algorithm, kept here as the oracle)
/// over random fleets: memory tight and unlimited, zones spread, pins, previous plans.
@Suite struct PlacementPlannerOracleTests {
    typealias P = PlacementPlannerPropertyTests

    /// For each new replica, every worker is looked at: the one in an unused zone (spreadBy: zone), then with the
    /// smallest share of memory used, then the fewest replicas, then the first by name. Existing replicas are kept
    /// first, as the planner does.
    static func scanPlan(_ c: P.Case, previous: [ModelVersionID: [String]]) -> [ModelVersionID: [String]] {
        var unique: [String: PlacementPlanner.Worker] = [:]
        for w in c.workers where unique[w.name] == nil { unique[w.name] = w }
        let workers = unique.values.sorted { $0.name < $1.name }
        var used = Array(repeating: 0, count: workers.count), replicas = Array(repeating: 0, count: workers.count)
        let sorted = c.demands.sorted { $0.id < $1.id }
        func eligible(_ w: Int, _ d: PlacementPlanner.Demand) -> Bool {
            if case .pinned(let names) = d.placement { return names.contains(workers[w].name) }
            return true
        }
        func fits(_ w: Int, _ d: PlacementPlanner.Demand) -> Bool { workers[w].capacityBytes - used[w] >= d.memoryBytes }
        var kept: [[Int]] = []
        for d in sorted {
            var keep: [Int] = []
            for name in previous[d.id] ?? [] where keep.count < d.replicas {
                guard let w = workers.firstIndex(where: { $0.name == name }), eligible(w, d), !keep.contains(w), fits(w, d) else { continue }
                used[w] += d.memoryBytes
                replicas[w] += 1
                keep.append(w)
            }
            kept.append(keep)
        }
        var plan: [ModelVersionID: [String]] = [:]
        for (n, d) in sorted.enumerated() {
            var chosen = kept[n]
            while chosen.count < d.replicas {
                let zones = d.placement == .spreadByZone ? Set(chosen.map { workers[$0].zone }) : []
                var best: Int?
                for w in workers.indices where eligible(w, d) && !chosen.contains(w) && fits(w, d) {
                    guard let b = best else { best = w; continue }
                    let spreadW = zones.contains(workers[w].zone), spreadB = zones.contains(workers[b].zone)
                    if spreadW != spreadB { if !spreadW { best = w }; continue }
                    let shareW = Double(used[w]) * Double(workers[b].capacityBytes), shareB = Double(used[b]) * Double(workers[w].capacityBytes)
                    if shareW != shareB { if shareW < shareB { best = w }; continue }
                    if replicas[w] != replicas[b] { if replicas[w] < replicas[b] { best = w }; continue }
                }
                guard let best else { break }
                used[best] += d.memoryBytes
                replicas[best] += 1
                chosen.append(best)
            }
            plan[d.id] = chosen.map { workers[$0].name }.sorted()
        }
        return plan
    }

    @Test(arguments: 0..<300 as Range<UInt64>)
    func theHeapChoosesWhatAScanChooses(seed: UInt64) {
        for unlimited in [false, true] {
            let c = P.makeCase(seed: seed, unlimitedMemory: unlimited)
            let first = P.plan(c)
            #expect(first.assignments == Self.scanPlan(c, previous: [:]), "seed \(seed), unlimited memory \(unlimited)")
            // A replan after an edit starts from the previous plan.
            var edited = c
            if !edited.demands.isEmpty { edited.demands[0].replicas += 1 }
            let second = P.plan(edited, previous: first.assignments)
            #expect(second.assignments == Self.scanPlan(edited, previous: first.assignments), "seed \(seed) edited, unlimited memory \(unlimited)")
        }
    }
}
