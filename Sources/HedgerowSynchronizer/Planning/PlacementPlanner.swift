import HeapModule
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
/// The heap's order is `isBetter`'s, so the plan is exactly the one a scan would choose.
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
        var fleet = Fleet(workers)
        var assignments: [ModelVersionID: [String]] = [:]
        var problems: [ModelVersionID: String] = [:]
        let sorted = demands.sorted { $0.id < $1.id }

        // First pass: keep what exists and fits, so usage is counted before any new replica is placed.
        var kept: [[Int]] = []
        kept.reserveCapacity(sorted.count)
        for demand in sorted {
            let before = previous[demand.id] ?? []
            let existing = before + (loaded[demand.id] ?? []).sorted().filter { !before.contains($0) }
            var keep: [Int] = []
            for name in existing where keep.count < demand.replicas {
                guard let w = fleet.index[name], fleet.isEligible(w, demand), !keep.contains(w), fleet.fits(demand, on: w) else { continue }
                fleet.place(demand, on: w)
                keep.append(w)
            }
            kept.append(keep)
        }
        // Second pass: fill what is missing.
        var queue: WorkerQueue?  // made when the first replica is missing: a replan that keeps everything needs none
        for (n, demand) in sorted.enumerated() {
            var chosen = kept[n]
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
                fleet.place(demand, on: best)
                queue?.update(best, in: fleet)
                chosen.append(best)
            }
            if chosen.count < demand.replicas {
                let candidates = fleet.candidates(for: demand)
                let full = candidates.filter { !chosen.contains($0) && !fleet.fits(demand, on: $0) }.count
                problems[demand.id] = problem(demand, placed: chosen.count, eligible: candidates.count, full: full)
            }
            assignments[demand.id] = chosen.map { fleet.name[$0] }.sorted()
        }
        return Plan(assignments: assignments, problems: problems)
    }

    private static func problem(_ demand: Demand, placed: Int, eligible: Int, full: Int) -> String {
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

    /// The live workers as parallel arrays indexed by position in name order, so that the inner loop compares
    /// integers instead of hashing names.
    private struct Fleet {
        let name: [String]
        /// Zone of each worker as a small integer (zones numbered in name order).
        let zone: [Int]
        let capacity: [Int]
        let index: [String: Int]
        var used: [Int]
        var replicas: [Int]
        private let everyone: [Int]

        init(_ workers: [Worker]) {
            var unique: [String: Worker] = [:]
            for w in workers where unique[w.name] == nil { unique[w.name] = w }
            let sorted = unique.values.sorted { $0.name < $1.name }
            name = sorted.map(\.name)
            var zoneNumbers: [String: Int] = [:]
            zone = sorted.map { w in
                if let z = zoneNumbers[w.zone] { return z }
                zoneNumbers[w.zone] = zoneNumbers.count
                return zoneNumbers.count - 1
            }
            capacity = sorted.map(\.capacityBytes)
            index = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1.name, $0) })
            used = Array(repeating: 0, count: sorted.count)
            replicas = Array(repeating: 0, count: sorted.count)
            everyone = Array(sorted.indices)
        }

        func candidates(for demand: Demand) -> [Int] {
            switch demand.placement {
            case .pinned(let names): Array(Set(names.compactMap { index[$0] })).sorted()
            case .any, .spreadByZone: everyone
            }
        }

        func isEligible(_ w: Int, _ demand: Demand) -> Bool {
            if case .pinned(let names) = demand.placement { return names.contains(name[w]) }
            return true
        }

        func fits(_ demand: Demand, on w: Int) -> Bool { capacity[w] - used[w] >= demand.memoryBytes }

        mutating func place(_ demand: Demand, on w: Int) {
            used[w] += demand.memoryBytes
            replicas[w] += 1
        }

        /// The best worker among `candidates` for a new replica (a scan: pinned versions have few candidates).
        func best(among candidates: [Int], for demand: Demand, excluding chosen: [Int], usedZones: Set<Int>) -> Int? {
            var best: Int?
            for w in candidates where !chosen.contains(w) && fits(demand, on: w) {
                if let b = best, !isBetter(w, than: b, usedZones: usedZones) { continue }
                best = w
            }
            return best
        }

        func queue() -> WorkerQueue {
            var queue = WorkerQueue(stamps: Array(repeating: 0, count: name.count))
            for w in name.indices { queue.heap.insert(.init(used: used[w], capacity: capacity[w], replicas: replicas[w], worker: w, stamp: 0)) }
            return queue
        }

        /// Order of preference for a new replica: an unused zone, then the smaller share of memory used, then
        /// fewer replicas, then the name (the index).
        func isBetter(_ a: Int, than b: Int, usedZones: Set<Int>) -> Bool {
            let spreadA = usedZones.contains(zone[a]), spreadB = usedZones.contains(zone[b])
            if spreadA != spreadB { return !spreadA }
            // used/capacity compared without division: a.used × b.capacity vs b.used × a.capacity.
            let shareA = Double(used[a]) * Double(capacity[b]), shareB = Double(used[b]) * Double(capacity[a])
            if shareA != shareB { return shareA < shareB }
            if replicas[a] != replicas[b] { return replicas[a] < replicas[b] }
            return a < b
        }
    }

    /// Every live worker in `Fleet.isBetter`'s order without zones, kept current by lazy deletion: a worker given a
    /// replica gets a new entry with a new stamp, and entries with an old stamp are dropped when they surface.
    private struct WorkerQueue {
        struct Entry: Comparable {
            var used: Int
            var capacity: Int
            var replicas: Int
            var worker: Int
            var stamp: Int

            /// `Fleet.isBetter` with no zone in use: the same cross-multiplied share, then replicas, then index.
            static func < (a: Entry, b: Entry) -> Bool {
                let shareA = Double(a.used) * Double(b.capacity), shareB = Double(b.used) * Double(a.capacity)
                if shareA != shareB { return shareA < shareB }
                if a.replicas != b.replicas { return a.replicas < b.replicas }
                return a.worker < b.worker
            }

            static func == (a: Entry, b: Entry) -> Bool { a.worker == b.worker && a.stamp == b.stamp }
        }

        var heap = Heap<Entry>()
        var stamps: [Int]

        /// The best worker that fits, is not chosen, and (when `usedZones` is not empty) lies in an unused zone if
        /// any such worker fits; else the best in a used zone. Entries looked at are put back.
        mutating func best(for demand: Demand, in fleet: Fleet, excluding chosen: [Int], usedZones: Set<Int>) -> Int? {
            var looked: [Entry] = []
            var fallback: Int?
            var found: Int?
            while let entry = heap.popMin() {
                guard entry.stamp == stamps[entry.worker] else { continue }  // superseded
                looked.append(entry)
                let w = entry.worker
                guard !chosen.contains(w), fleet.fits(demand, on: w) else { continue }
                if usedZones.contains(fleet.zone[w]) {
                    if fallback == nil { fallback = w }
                    continue
                }
                found = w
                break
            }
            for entry in looked { heap.insert(entry) }
            return found ?? fallback
        }

        /// `w` was given a replica: its entry moves.
        mutating func update(_ w: Int, in fleet: Fleet) {
            stamps[w] += 1
            heap.insert(.init(used: fleet.used[w], capacity: fleet.capacity[w], replicas: fleet.replicas[w], worker: w, stamp: stamps[w]))
        }
    }
}
