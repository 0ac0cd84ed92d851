import Foundation
import HedgerowCore

/// `GET /dashboard/data`: what the live page draws, from this router's own memory (docs/dashboard.md documents
/// the fields). Per model in the routing table: the last `TrafficHistory.capacity` seconds as columns (one array
/// per field, oldest first, the last entry being the last finished second), requests in flight and the hedge delay
/// in force. Per replica: its state as the outlier detector sees it, its peak-EWMA latency and the work this
/// router has outstanding on it.
///
/// Bounded: models and replicas come from the routing table, points from fixed-size rings.
struct DashboardData: Encodable {
    struct Series: Encodable {
        /// Unix time (seconds) of each point.
        var t: [Int64] = []
        var requests: [Int] = []
        var serverErrors: [Int] = []
        var clientErrors: [Int] = []
        var hedges: [Int] = []
        var hedgeWins: [Int] = []
        /// Milliseconds; null for a second without requests.
        var p50Ms: [Double?] = []
        var p99Ms: [Double?] = []
        var p999Ms: [Double?] = []
    }

    struct Model: Encodable {
        var name: String
        /// Version → replica addresses, as the routing table has them.
        var versions: [String: [String]]
        var defaultVersion: Int?
        var inFlight: Int
        var hedgeDelayMs: Double?
        var hedgeBudgetPercent: Double
        var series: Series
    }

    struct Replica: Encodable {
        var address: String
        var zone: String?
        /// "model vN" for each version the replica serves.
        var serves: [String]
        /// "ok", or "ejected" while the outlier detector keeps it out of every pool.
        var state: String
        /// Peak-EWMA latency estimate, milliseconds; null before its first answer.
        var latencyMs: Double?
        /// Attempts this router has outstanding on it (in flight, and abandoned ones not yet settled).
        var inFlight: Int
    }

    var generation: Int
    var version = HedgerowVersion.current
    var intervalSeconds = 1
    /// Unix time (seconds) at which the data was taken.
    var now: Double
    var models: [Model]
    var replicas: [Replica]

    init(table: RoutingTable, traffic: ModelTrafficRegistry, pool: UpstreamPool, now: UInt64, wallClock: Double = Date().timeIntervalSince1970) {
        generation = table.generation
        self.now = wallClock
        let nowSecond = now / 1_000_000_000
        let wallSecond = Int64(wallClock.rounded(.down))
        let served = traffic.all
        var replicaServes: [String: [String]] = [:]
        var zones: [String: String] = [:]
        models = table.models.sorted { $0.key < $1.key }.map { name, routes in
            for (version, addresses) in routes.versions {
                for address in addresses { replicaServes[address, default: []].append("\(name) v\(version)") }
            }
            zones.merge(routes.zones) { first, _ in first }
            var series = Series()
            var inFlight = 0
            var delay: Double?
            if let modelTraffic = served[name] {
                let snapshot = modelTraffic.dashboardSnapshot(now: now)
                inFlight = snapshot.inFlight
                delay = snapshot.hedgeDelayMicros.map { Double($0) / 1000 }
                for point in snapshot.points {
                    // Monotonic seconds to wall time: the same distance back from now.
                    series.t.append(wallSecond - Int64(clamping: nowSecond - min(point.second, nowSecond)))
                    series.requests.append(point.requests)
                    series.serverErrors.append(point.serverErrors)
                    series.clientErrors.append(point.clientErrors)
                    series.hedges.append(point.hedges)
                    series.hedgeWins.append(point.hedgeWins)
                    series.p50Ms.append(point.p50Micros.map { Double($0) / 1000 })
                    series.p99Ms.append(point.p99Micros.map { Double($0) / 1000 })
                    series.p999Ms.append(point.p999Micros.map { Double($0) / 1000 })
                }
            }
            return Model(
                name: name, versions: routes.versions, defaultVersion: routes.defaultVersion, inFlight: inFlight,
                hedgeDelayMs: routes.hedging.isEnabled ? delay : nil, hedgeBudgetPercent: routes.hedging.budgetPercent, series: series
            )
        }
        replicas = replicaServes.keys.sorted().map { address in
            Replica(
                address: address, zone: zones[address], serves: replicaServes[address, default: []].sorted(),
                state: pool.isEjected(address) ? "ejected" : "ok",
                latencyMs: pool.latencyEstimate(address, now: now).map { $0 / 1_000_000 }.flatMap { $0.isFinite ? $0 : nil },
                inFlight: pool.outstanding(address)
            )
        }
    }
}
