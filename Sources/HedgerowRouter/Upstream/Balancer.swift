/// Replica choice for one request, in one place: which replicas may be tried, in which order. The primary is the
/// first; backups and retries take the rest in turn.
///
/// 1. **Ejection**: replicas the outlier detector took out of service are left out (never more than half the
///    pool, see `OutlierDetector.usable`).
/// 2. **Power of two choices**: two distinct replicas are sampled and the cheaper is the primary. Nearly as good
///    as least-loaded over the whole pool, without herding every router onto the same replica.
/// 3. **Cost**: the others follow cheapest first. The cost is `ReplicaLoad.cost` (latency × outstanding work),
///    or requests in flight only with `Balancing.leastRequests`.
/// 4. **Failure domains**: replicas in another zone (or at least another host) than the primary move ahead of
///    those in the same one, keeping the cost order within each group, so that whatever slowed the primary is
///    less likely to slow its backup too.
///
/// Pure: the pool passes in what it knows; `random(n)` returns an integer in `0..<n` (injected for tests).
public enum Balancer {
    /// What power of two choices compares.
    public enum Balancing: String, Sendable, CaseIterable {
        /// Latency (peak-EWMA, or the age of the oldest outstanding request if larger) × (outstanding + 1): slow
        /// and stalled replicas lose traffic too (the default).
        case peakEWMA = "peak-ewma"
        /// Requests in flight only: a slow replica keeps its share until requests pile up on it. For comparison.
        case leastRequests = "least-requests"
    }

    /// The final order for one request: `pool` without the replicas `outliers` ejected, ordered by P2C and
    /// cost, then spread over failure domains; and how many replicas were left out.
    public static func order(
        _ pool: [String], outliers: OutlierDetector, cost: (String) -> Double, domain: (String) -> String,
        random: (Int) -> Int = { Int.random(in: 0..<$0) }
    ) -> (order: [String], ejected: Int) {
        let usable = outliers.usable(pool)
        return (order(usable, cost: cost, domain: domain, random: random), pool.count - usable.count)
    }

    /// The order of replicas already known to be usable.
    static func order(
        _ usable: [String], cost: (String) -> Double, domain: (String) -> String, random: (Int) -> Int = { Int.random(in: 0..<$0) }
    ) -> [String] {
        spreadBackups(byCost(usable, cost: cost, random: random), domain: domain)
    }

    /// The P2C winner first, the rest after it, cheapest first.
    static func byCost(_ replicas: [String], cost: (String) -> Double, random: (Int) -> Int) -> [String] {
        guard replicas.count > 1 else { return replicas }
        let i = random(replicas.count)
        var j = random(replicas.count - 1)
        if j >= i { j += 1 }
        let (a, b) = (replicas[i], replicas[j])
        let first = cost(b) < cost(a) ? b : a
        let rest = replicas.filter { $0 != first }.sorted { cost($0) < cost($1) }
        return [first] + rest
    }

    /// Moves replicas in another failure domain than the first (the primary) ahead of those in the same one.
    static func spreadBackups(_ order: [String], domain: (String) -> String) -> [String] {
        guard order.count > 2, let first = order.first else { return order }
        let primary = domain(first)
        let rest = order.dropFirst()
        return [first] + rest.filter { domain($0) != primary } + rest.filter { domain($0) == primary }
    }
}
