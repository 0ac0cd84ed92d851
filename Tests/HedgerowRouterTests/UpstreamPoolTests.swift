import HedgerowRouter
import Testing

@Suite struct UpstreamPoolTests {
    @Test func aSlowReplicaLosesPrimaryTraffic() {
        let pool = UpstreamPool()
        for replica in ["fast", "slow"] { pool.attemptStarted(replica) }
        pool.attemptEnded("fast", nanos: 1_000_000, result: .answered, now: 0)
        pool.attemptEnded("slow", nanos: 50_000_000, result: .answered, now: 0)
        // Both idle: with two replicas P2C always compares both, and the slow one is never first.
        for _ in 0..<50 { #expect(pool.candidates(["fast", "slow"], now: 1).order == ["fast", "slow"]) }
        // Until the fast one carries fifty times the concurrency.
        for _ in 0..<50 { pool.attemptStarted("fast") }
        #expect(pool.candidates(["fast", "slow"], now: 1).order.first == "slow")
    }

    @Test func aCancelledLoserCountsAsSlowAndNotAsFailed() {
        let pool = UpstreamPool()
        pool.attemptStarted("stalled")
        pool.attemptEnded("stalled", nanos: 80_000_000, result: .abandoned, now: 0)
        #expect(pool.latencyEstimate("stalled", now: 0) == 80_000_000)
        #expect(!pool.isEjected("stalled"))
        #expect(pool.outstanding("stalled") == 0)
    }

    @Test func ejectedReplicasAreLeftOutAndCounted() {
        let pool = UpstreamPool()
        pool.attemptStarted("dead")
        #expect(pool.attemptEnded("dead", nanos: 1_000, result: .failed(connectFailed: true), now: 0))
        let (order, ejected) = pool.candidates(["dead", "b", "c"], now: 1)
        #expect(order.count == 2 && !order.contains("dead"))
        #expect(ejected == 1)
    }

    @Test func retainKeepsReplicasWithRequestsInFlight() {
        let pool = UpstreamPool()
        pool.attemptStarted("leaving")
        pool.retain([])
        #expect(pool.outstanding("leaving") == 1)
        pool.attemptEnded("leaving", nanos: 1_000, result: .answered, now: 0)
        pool.retain([])
        #expect(pool.latencyEstimate("leaving", now: 0) == nil)
    }
}
