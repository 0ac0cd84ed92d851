/// Power of two choices: sample two distinct replicas, take the one with fewer requests in flight.
/// Nearly as good as least-loaded over the whole pool, without herding every router onto the same replica.
public enum EndpointSelector {
    /// Orders `replicas` for one request: the P2C winner first, the rest (candidates for hedges and retries)
    /// after it, least loaded first. `random(n)` returns an integer in `0..<n` (injected for tests).
    public static func order(_ replicas: [String], load: (String) -> Int, random: (Int) -> Int = { Int.random(in: 0..<$0) }) -> [String] {
        guard replicas.count > 1 else { return replicas }
        let i = random(replicas.count)
        var j = random(replicas.count - 1)
        if j >= i { j += 1 }
        let (a, b) = (replicas[i], replicas[j])
        let first = load(b) < load(a) ? b : a
        let rest = replicas.filter { $0 != first }.sorted { load($0) < load($1) }
        return [first] + rest
    }
}
