import HedgerowRouter
import Testing

@Suite struct UpstreamPoolTests {
    let ms: UInt64 = 1_000_000

    @Test func aSlowReplicaLosesPrimaryTraffic() {
        let pool = UpstreamPool()
        let fast = pool.attemptStarted("fast", now: 0), slow = pool.attemptStarted("slow", now: 0)
        pool.attemptEnded(fast, result: .answered, now: 1 * ms)
        pool.attemptEnded(slow, result: .answered, now: 50 * ms)
        // Both idle: with two replicas P2C always compares both, and the slow one is never first.
        for _ in 0..<50 { #expect(pool.candidates(["fast", "slow"], now: 50 * ms).order == ["fast", "slow"]) }
        // Until the fast one carries fifty times the concurrency.
        for _ in 0..<50 { _ = pool.attemptStarted("fast", now: 50 * ms) }
        #expect(pool.candidates(["fast", "slow"], now: 50 * ms).order.first == "slow")
    }

    /// Issue 12's cause, end to end through the pool: the primary on a frozen replica loses to a hedge after
    /// 2 ms. Before, the pool then saw a replica that "took 2 ms" with nothing in flight, and sent it the next
    /// primaries. Now the replica stays the costlier one while it is frozen, and after the probe it is charged
    /// the stall.
    @Test func aCancelledLoserKeepsItsReplicaCostlyUntilTheStallEnds() {
        let pool = UpstreamPool()
        for replica in ["frozen", "healthy"] {
            let warm = pool.attemptStarted(replica, now: 0)
            pool.attemptEnded(warm, result: .answered, now: 1 * ms)
        }
        let primary = pool.attemptStarted("frozen", now: 10 * ms)
        let hedge = pool.attemptStarted("healthy", now: 12 * ms)
        pool.attemptEnded(hedge, result: .answered, now: 13 * ms)
        #expect(pool.attemptAbandoned(primary, now: 13 * ms))  // probe it
        #expect(pool.outstanding("frozen") == 1)
        #expect(!pool.isEjected("frozen"))
        pool.probeSent("frozen", now: 13 * ms)
        for t in [14, 20, 40] {
            #expect(pool.candidates(["frozen", "healthy"], now: UInt64(t) * ms).order.first == "healthy")
        }
        #expect(!pool.probeEnded("frozen", now: 60 * ms))
        #expect(pool.outstanding("frozen") == 0)
        #expect(pool.latencyEstimate("frozen", now: 60 * ms) == Double(50 * ms))
        // Well after the stall, the frozen replica is still the costlier of the two.
        #expect(pool.cost("frozen", now: 500 * ms) > 10 * pool.cost("healthy", now: 500 * ms))
    }

    @Test func leastRequestsCountsAbandonedWorkToo() {
        let pool = UpstreamPool(balancing: .leastRequests)
        let a = pool.attemptStarted("a", now: 0)
        _ = pool.attemptAbandoned(a, now: 1 * ms)
        #expect(pool.candidates(["a", "b"], now: 2 * ms).order == ["b", "a"])
    }

    @Test func ejectedReplicasAreLeftOutAndCounted() {
        let pool = UpstreamPool()
        let attempt = pool.attemptStarted("dead", now: 0)
        #expect(pool.attemptEnded(attempt, result: .failed(connectFailed: true), now: 1_000))
        let (order, ejected) = pool.candidates(["dead", "b", "c"], now: 2_000)
        #expect(order.count == 2 && !order.contains("dead"))
        #expect(ejected == 1)
    }

    @Test func theOrderSpreadsBackupsOverZones() {
        let pool = UpstreamPool()
        let zones = ["a1": "a", "a2": "a", "b1": "b"]
        for _ in 0..<20 {
            let order = pool.candidates(["a1", "a2", "b1"], domain: { zones[$0] ?? "" }, now: 0).order
            #expect(zones[order[0]] != zones[order[1]])
        }
    }

    @Test func retainKeepsReplicasWithWorkOutstanding() {
        let pool = UpstreamPool()
        let attempt = pool.attemptStarted("leaving", now: 0)
        pool.retain([])
        #expect(pool.outstanding("leaving") == 1)
        pool.attemptEnded(attempt, result: .answered, now: 1_000)
        pool.retain([])
        #expect(pool.latencyEstimate("leaving", now: 1_000) == nil)
    }
}
