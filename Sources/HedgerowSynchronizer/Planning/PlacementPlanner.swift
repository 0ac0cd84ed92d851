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
/// Cost: O(replicas × eligible workers) with integer work per step; 10,000 versions × 2 replicas over 1,000
/// workers plan in well under a second (Benchmarks/placement).
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
        for (n, demand) in sorted.enumerated() {
            var chosen = kept[n]
            var full = 0
            while chosen.count < demand.replicas {
                let usedZones = demand.placement == .spreadByZone ? Set(chosen.map { fleet.zone[$0] }) : []
                var best: Int?
                full = 0
                for w in fleet.candidates(for: demand) where !chosen.contains(w) {
                    guard fleet.fits(demand, on: w) else { full += 1; continue }
                    if let b = best, !fleet.isBetter(w, than: b, usedZones: usedZones) { continue }
                    best = w
                }
                guard let best else { break }
                fleet.place(demand, on: best)
                chosen.append(best)
            }
            if chosen.count < demand.replicas {
                problems[demand.id] = problem(demand, placed: chosen.count, eligible: fleet.candidates(for: demand).count, full: full)
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
}
