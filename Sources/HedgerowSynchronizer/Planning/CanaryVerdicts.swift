import HedgerowCore

/// The synchronizer's view of every canary: the blocks the desired state holds, the routers' latest totals for each,
/// and the aborts latched so far. Pure: reports and edits in, routes and statuses out; `CanaryRegistry` shares it
/// between the control loop and the HTTP API behind a lock.
///
/// A canary is aborted when any router says its own totals crossed a threshold, or when the sum of every router's
/// totals does (`CanaryTally.verdict`). The abort is latched to the block's identity: it holds across reconcile
/// rounds and router restarts, and ends only when the user edits or removes the `canary` block. Reports of another
/// block than the one in force (a router that has not seen an edit yet) are ignored.
struct CanaryVerdicts: Sendable {
    struct Latch: Sendable, Equatable {
        var identity: String
        var reason: String
    }

    private struct RouterTotals: Sendable {
        var tally: CanaryTally
        var aborted: String?
        var at: Double
    }

    /// Routers whose reports are kept per canary; the longest silent one makes room for a new one.
    static let maxRouters = 1024

    private(set) var desired: [String: CanaryPolicy] = [:]
    private(set) var latched: [String: Latch] = [:]
    private var reports: [String: [String: RouterTotals]] = [:]

    /// The canaries of the desired state now, by model. Reports and latches of blocks edited or removed are dropped.
    mutating func setDesired(_ canaries: [String: CanaryPolicy]) {
        for (model, old) in desired where canaries[model]?.identity != old.identity {
            reports[model] = nil
            latched[model] = nil
        }
        desired = canaries
    }

    /// Takes one router's report; returns the canaries it made abort (model, candidate, reason).
    mutating func receive(_ report: CanaryReport, now: Double) -> [(model: String, candidate: Int, reason: String)] {
        var aborted: [(String, Int, String)] = []
        for entry in report.canaries {
            guard let canary = desired[entry.model], canary.identity == entry.identity, canary.version == entry.candidate else { continue }
            var routers = reports[entry.model] ?? [:]
            if routers[report.router] == nil, routers.count >= Self.maxRouters,
               let oldest = routers.min(by: { $0.value.at < $1.value.at })?.key {
                routers[oldest] = nil
            }
            routers[report.router] = RouterTotals(tally: entry.tally, aborted: entry.aborted, at: now)
            reports[entry.model] = routers
            guard latched[entry.model] == nil else { continue }
            // A router's reason is cut by bytes: the routing table refuses a canary whose reason passes 4096.
            let reason = entry.aborted.map { "router \(Self.cut(report.router, 64)): \(Self.cut($0, 1000))" } ?? total(entry.model).tally.verdict(canary.abort)
            if let reason {
                latched[entry.model] = Latch(identity: canary.identity, reason: reason)
                aborted.append((entry.model, canary.version, reason))
            }
        }
        return aborted
    }

    /// At most `bytes` UTF-8 bytes of `text` (a character cut in two is replaced, never kept half).
    static func cut(_ text: String, _ bytes: Int) -> String {
        String(decoding: Array(text.utf8.prefix(bytes)), as: UTF8.self)
    }

    /// The sum of every router's totals of a model's canary, and how many routers reported.
    func total(_ model: String) -> (tally: CanaryTally, routers: Int) {
        var sum = CanaryTally()
        let routers = reports[model] ?? [:]
        for totals in routers.values { sum.add(totals.tally) }
        return (sum, routers.count)
    }

    /// `routes` with each latched abort written into its model's canary, so that routers stop sending to it.
    func applied(to routes: [String: RoutingTable.ModelRoutes]) -> [String: RoutingTable.ModelRoutes] {
        var routes = routes
        for (model, latch) in latched {
            guard var canary = routes[model]?.canary, canary.identity == latch.identity else { continue }
            canary.aborted = latch.reason
            routes[model]?.canary = canary
        }
        return routes
    }

    /// Every canary of the desired state, by model name.
    func statuses() -> [CanaryStatus] {
        desired.sorted { $0.key < $1.key }.map { model, canary in
            let (tally, routers) = total(model)
            let latch = latched[model]
            return CanaryStatus(model: model, candidate: canary.version, mirrorPercent: canary.mirrorPercent, splitPercent: canary.splitPercent,
                                state: latch == nil ? "running" : "aborted", reason: latch?.reason, tally: tally, routers: routers)
        }
    }
}
