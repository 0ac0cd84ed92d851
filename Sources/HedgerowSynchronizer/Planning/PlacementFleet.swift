import HeapModule
import HedgerowCore

extension PlacementPlanner {
    /// The live workers as parallel arrays indexed by position in name order, so that the inner loop compares
    /// integers instead of hashing names.
    struct Fleet: Sendable {
        /// The workers given, one per name, in name order: what a later plan compares to see if the fleet changed.
        let workers: [Worker]
        let name: [String]
        /// Zone of each worker as a small integer (zones numbered in name order).
        let zone: [Int]
        let capacity: [Int]
        let index: [String: Int]
        var used: [Int]
        var replicas: [Int]
        private let everyone: [Int]

        /// `workers` one per name (the first given), in name order: the fleet a plan is made over.
        static func unique(_ workers: [Worker]) -> [Worker] {
            var unique: [String: Worker] = [:]
            for w in workers where unique[w.name] == nil { unique[w.name] = w }
            return unique.values.sorted { $0.name < $1.name }
        }

        init(_ workers: [Worker]) {
            let sorted = Self.unique(workers)
            self.workers = sorted
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

        mutating func release(_ demand: Demand, on w: Int) {
            used[w] -= demand.memoryBytes
            replicas[w] -= 1
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
    struct WorkerQueue: Sendable {
        struct Entry: Comparable, Sendable {
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

        /// Entries, current and superseded: a queue much larger than the fleet is worth rebuilding.
        var count: Int { heap.count }

        /// `w` was given or lost a replica: its entry moves.
        mutating func update(_ w: Int, in fleet: Fleet) {
            stamps[w] += 1
            heap.insert(.init(used: fleet.used[w], capacity: fleet.capacity[w], replicas: fleet.replicas[w], worker: w, stamp: stamps[w]))
        }
    }
}
