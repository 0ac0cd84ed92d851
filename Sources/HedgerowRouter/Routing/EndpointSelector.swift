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
}
