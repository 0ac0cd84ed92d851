import HedgerowCore
@testable import HedgerowRouter
import NIOCore
import Testing

@Suite struct ModelLatenciesTests {
    @Test func theHedgeDelayIsRecomputedOncePerRefreshPeriod() throws {
        let latencies = ModelLatencies(refreshNanos: 100_000_000)
        let id = ModelVersionID(model: try ModelName("digits"), version: try ModelVersion(1))
        let policy = try HedgingPolicy(percentile: 50, budgetPercent: 5, minDelayMs: 0, maxDelayMs: 1000)
        let start = NIODeadline.uptimeNanoseconds(10_000_000_000)
        for _ in 0..<50 { latencies.record(id, nanos: 2_000_000, now: start) }
        #expect(latencies.hedgeDelay(id, policy: policy, now: start).nanoseconds / 1_000_000 == 2)
        // The pool turns slow: within the refresh period the cached delay stands ...
        for _ in 0..<200 { latencies.record(id, nanos: 40_000_000, now: start) }
        #expect(latencies.hedgeDelay(id, policy: policy, now: start + .milliseconds(50)).nanoseconds / 1_000_000 == 2)
        // ... after it, the delay follows the window.
        #expect(latencies.hedgeDelay(id, policy: policy, now: start + .milliseconds(100)).nanoseconds / 1_000_000 == 40)
        // A changed policy is not served a delay computed for the old one.
        let p99 = try HedgingPolicy(percentile: 99, budgetPercent: 5, minDelayMs: 0, maxDelayMs: 10)
        #expect(latencies.hedgeDelay(id, policy: p99, now: start + .milliseconds(110)).nanoseconds / 1_000_000 == 10)
    }
}
