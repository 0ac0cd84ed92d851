import HedgerowCore

/// The planner with its memory: the last plan together with what each worker holds and the worker queue, so that
/// an edit to a few model versions costs what those versions cost, not what the fleet costs.
///
/// A full plan (`init`, or `replan` when the live workers changed) is `PlacementPlanner.plan`'s: O(R log W +
/// V log V) for R replicas of V versions over W workers. An edit (`apply`) releases the edited versions' replicas,
/// keeps those still eligible and fitting, places what is missing from the queue, then gives the versions that were
/// short of replicas a new try when memory was freed: O((e + s) × k log W) for e edited and s short versions,
/// k heap entries looked at per replica (1 in the common case); assignments and problems change in place.
/// `replan` finds the edit itself by comparing every demand, O(V).
///
/// Rules are the planner's (`PlacementPlanner`), with one difference that only makes an edit move less: the edited
/// versions are placed after every other version's replicas are counted, so an edit never moves another version,
/// even where a full plan would have given the edited one a worker first in model-version order.
public struct PlacementState: Sendable {
    typealias Fleet = PlacementPlanner.Fleet
    typealias Demand = PlacementPlanner.Demand

    private var fleet: Fleet
    /// Made when a replica first needs a worker; kept current on every place and release after that.
    private var queue: PlacementPlanner.WorkerQueue?
    private var demands: [ModelVersionID: Demand] = [:]
    private var chosen: [ModelVersionID: [Int]] = [:]
    /// The demands of the last `init` or `replan`, in the caller's order: a round that rebuilds them in the same
    /// order is compared element by element, without hashing.
    private var lastDemands: [Demand] = []
    public private(set) var plan = PlacementPlanner.Plan(assignments: [:], problems: [:])

    /// A full plan. `previous` placements are kept first, then `loaded` ones (a restarted synchronizer adopts what
    /// workers hold); see `PlacementPlanner.plan`.
    public init(
        demands: [PlacementPlanner.Demand], workers: [PlacementPlanner.Worker],
        previous: [ModelVersionID: [String]] = [:], loaded: [ModelVersionID: Set<String>] = [:]
    ) {
        fleet = Fleet(workers)
        var unique: [ModelVersionID: Demand] = [:]
        for demand in demands where unique[demand.id] == nil { unique[demand.id] = demand }
        self.demands = unique
        lastDemands = demands
        let sorted = unique.values.sorted { $0.id < $1.id }
        // First pass: keep what exists and fits, so usage is counted before any new replica is placed.
        var kept: [[Int]] = []
        kept.reserveCapacity(sorted.count)
        for demand in sorted { kept.append(keep(demand, previous: previous[demand.id] ?? [], loaded: loaded[demand.id])) }
        // Second pass: fill what is missing.
        plan.assignments.reserveCapacity(sorted.count)
        for (n, demand) in sorted.enumerated() { fill(demand, from: kept[n]) }
    }

    /// Brings the plan to `demands` over `workers`: a full plan, keeping the current placements first, when the
    /// live workers changed; else an edit of the demands that differ from the last ones. Returns the versions whose
    /// assignment or problem may have changed (every version after a full plan).
    @discardableResult
    public mutating func replan(
        demands: [PlacementPlanner.Demand], workers: [PlacementPlanner.Worker], loaded: [ModelVersionID: Set<String>]
    ) -> Set<ModelVersionID> {
        guard workers == fleet.workers || Fleet.unique(workers) == fleet.workers else {
            self = PlacementState(demands: demands, workers: workers, previous: plan.assignments, loaded: loaded)
            return Set(plan.assignments.keys).union(plan.problems.keys)
        }
        defer { lastDemands = demands }
        if demands.count == lastDemands.count, let changed = Self.changedInPlace(demands, from: lastDemands) {
            return apply(changed: changed, removed: [], loaded: loaded)
        }
        var changed: [Demand] = []
        var present = Set<ModelVersionID>(minimumCapacity: demands.count)
        var kept = 0  // versions demanded before too: fewer than before means some were removed
        for demand in demands where present.insert(demand.id).inserted {
            let old = self.demands[demand.id]
            if old != nil { kept += 1 }
            if old != demand { changed.append(demand) }
        }
        let removed = kept == self.demands.count ? [] : self.demands.keys.filter { !present.contains($0) }
        return apply(changed: changed, removed: removed, loaded: loaded)
    }

    /// The demands that differ from `old` at the same position, or nil when a position holds another version.
    private static func changedInPlace(_ new: [Demand], from old: [Demand]) -> [Demand]? {
        var changed: [Demand] = []
        for (a, b) in zip(new, old) where a != b {
            guard a.id == b.id else { return nil }
            changed.append(a)
        }
        return changed
    }

    /// An edit: `changed` versions (new ones, or other replicas, placement or memory) and `removed` ones. Every other
    /// version keeps every replica; those short of replicas may gain some when the edit freed memory. Returns the
    /// versions whose assignment or problem may have changed.
    @discardableResult
    public mutating func apply(
        changed: [PlacementPlanner.Demand], removed: [ModelVersionID], loaded: [ModelVersionID: Set<String>] = [:]
    ) -> Set<ModelVersionID> {
        lastDemands = []  // no longer the demands in force (`replan` sets them again after)
        var touched = Set<ModelVersionID>()
        var freed = false
        for id in removed {
            guard let demand = demands.removeValue(forKey: id) else { continue }
            freed = release(demand) || freed
            chosen[id] = nil
            plan.assignments[id] = nil
            plan.problems[id] = nil
            touched.insert(id)
        }
        var edited: [(Demand, before: [String])] = []
        var seen = Set<ModelVersionID>()
        for demand in changed where demands[demand.id] != demand && seen.insert(demand.id).inserted {
            var before: [String] = []
            if let old = demands[demand.id] {
                before = (chosen[demand.id] ?? []).map { fleet.name[$0] }
                freed = release(old) || freed
            }
            edited.append((demand, before))
        }
        edited.sort { $0.0.id < $1.0.id }
        // Kept replicas first for every edited version, so that one edit's new replica never takes the room another
        // edited version already holds.
        let kept = edited.map { demand, before in
            demands[demand.id] = demand
            return keep(demand, previous: before, loaded: loaded[demand.id])
        }
        for (n, (demand, _)) in edited.enumerated() {
            fill(demand, from: kept[n])
            touched.insert(demand.id)
        }
        // Memory freed by the edit may now fit a replica a version was short of.
        if freed {
            for id in plan.problems.keys.sorted() where !touched.contains(id) {
                guard let demand = demands[id] else { continue }
                fill(demand, from: chosen[id] ?? [])
                touched.insert(id)
            }
        }
        return touched
    }

    /// The replicas of `demand` that stay where they are: `previous` ones first, then `loaded` ones, while they are
    /// eligible, on distinct workers and fit. Their usage is counted.
    private mutating func keep(_ demand: Demand, previous: [String], loaded: Set<String>?) -> [Int] {
        var keep: [Int] = []
        let existing = previous + (loaded ?? []).sorted().filter { !previous.contains($0) }
        for name in existing where keep.count < demand.replicas {
            guard let w = fleet.index[name], fleet.isEligible(w, demand), !keep.contains(w), fleet.fits(demand, on: w) else { continue }
            place(demand, on: w)
            keep.append(w)
        }
        return keep
    }

    /// Adds the replicas `demand` lacks beyond `chosen`, records its assignment and its problem if still short.
    private mutating func fill(_ demand: Demand, from chosen: [Int]) {
        var chosen = chosen
        while chosen.count < demand.replicas {
            let usedZones = demand.placement == .spreadByZone ? Set(chosen.map { fleet.zone[$0] }) : []
            let found: Int?
            if case .pinned = demand.placement {
                found = fleet.best(among: fleet.candidates(for: demand), for: demand, excluding: chosen, usedZones: usedZones)
            } else {
                if queue == nil { queue = fleet.queue() }
                found = queue?.best(for: demand, in: fleet, excluding: chosen, usedZones: usedZones)
            }
            guard let best = found else { break }
            place(demand, on: best)
            chosen.append(best)
        }
        if chosen.count < demand.replicas {
            let candidates = fleet.candidates(for: demand)
            let full = candidates.filter { !chosen.contains($0) && !fleet.fits(demand, on: $0) }.count
            plan.problems[demand.id] = PlacementPlanner.problem(demand, placed: chosen.count, eligible: candidates.count, full: full)
        } else {
            plan.problems[demand.id] = nil
        }
        self.chosen[demand.id] = chosen
        plan.assignments[demand.id] = chosen.map { fleet.name[$0] }.sorted()
    }

    private mutating func place(_ demand: Demand, on w: Int) {
        fleet.place(demand, on: w)
        requeue(w)
    }

    /// Takes back the memory of every replica of `demand`; says whether any was freed.
    private mutating func release(_ demand: Demand) -> Bool {
        let workers = chosen[demand.id] ?? []
        for w in workers {
            fleet.release(demand, on: w)
            requeue(w)
        }
        return !workers.isEmpty
    }

    /// `w`'s usage changed. Superseded entries pile up with every update: past a few per worker, a fresh queue is
    /// cheaper to search than one that skips them.
    private mutating func requeue(_ w: Int) {
        guard queue != nil else { return }
        queue?.update(w, in: fleet)
        if let q = queue, q.count > 4 * fleet.name.count + 1024 { queue = fleet.queue() }
    }
}
