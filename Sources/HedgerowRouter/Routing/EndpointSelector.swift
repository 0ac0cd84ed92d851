/// Power of two choices: sample two distinct replicas, take the cheaper. Nearly as good as least-loaded over the
/// whole pool, without herding every router onto the same replica. The cost is `UpstreamPool`'s peak-EWMA
/// latency times requests in flight, so a slow replica gets less traffic, not just a busy one.
public enum EndpointSelector {
    /// Orders `replicas` for one request: the P2C winner first, the rest (candidates for hedges and retries)
    /// after it, cheapest first. `random(n)` returns an integer in `0..<n` (injected for tests).
    public static func order(_ replicas: [String], cost: (String) -> Double, random: (Int) -> Int = { Int.random(in: 0..<$0) }) -> [String] {
        guard replicas.count > 1 else { return replicas }
        let i = random(replicas.count)
        var j = random(replicas.count - 1)
        if j >= i { j += 1 }
        let (a, b) = (replicas[i], replicas[j])
        let first = cost(b) < cost(a) ? b : a
        let rest = replicas.filter { $0 != first }.sorted { cost($0) < cost($1) }
        return [first] + rest
    }

    /// Moves replicas in another failure domain than the first (the primary) ahead of those in the same one,
    /// keeping the cost order within each group, so that a backup or a retry goes to another zone, or at least
    /// another host, when the pool has one: whatever slowed the primary is less likely to slow it too.
    public static func spreadBackups(_ order: [String], domain: (String) -> String) -> [String] {
        guard order.count > 2, let first = order.first else { return order }
        let primary = domain(first)
        let rest = order.dropFirst()
        return [first] + rest.filter { domain($0) != primary } + rest.filter { domain($0) == primary }
    }
}
