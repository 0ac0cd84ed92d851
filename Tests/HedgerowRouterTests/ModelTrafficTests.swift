import HedgerowCore
@testable import HedgerowRouter
import NIOCore
import Testing

@Suite struct ModelTrafficTests {
    let ms: UInt64 = 1_000_000

    @Test func theHedgeDelayIsRecomputedOncePerRefreshPeriod() throws {
        let traffic = ModelTraffic(model: "digits", refreshNanos: 100 * ms)
        let version = try ModelVersion(1)
        let policy = try HedgingPolicy(percentile: 50, budgetPercent: 5, minDelayMs: 0, maxDelayMs: 1000)
        let start: UInt64 = 10_000 * ms
        for _ in 0..<50 { traffic.record(version, nanos: 2_000_000, now: start) }
        #expect(traffic.hedgeDelay(version, policy: policy, now: start).nanoseconds / 1_000_000 == 2)
        // The pool turns slow: within the refresh period the cached delay stands ...
        for _ in 0..<200 { traffic.record(version, nanos: 40_000_000, now: start) }
        #expect(traffic.hedgeDelay(version, policy: policy, now: start + 50 * ms).nanoseconds / 1_000_000 == 2)
        // ... after it, the delay follows the window.
        #expect(traffic.hedgeDelay(version, policy: policy, now: start + 100 * ms).nanoseconds / 1_000_000 == 40)
        // A changed policy is not served a delay computed for the old one.
        let p99 = try HedgingPolicy(percentile: 99, budgetPercent: 5, minDelayMs: 0, maxDelayMs: 10)
        #expect(traffic.hedgeDelay(version, policy: p99, now: start + 110 * ms).nanoseconds / 1_000_000 == 10)
    }

    @Test func versionsHaveTheirOwnWindows() throws {
        let traffic = ModelTraffic(model: "digits")
        let policy = try HedgingPolicy(percentile: 50, budgetPercent: 5, minDelayMs: 0, maxDelayMs: 1000)
        for _ in 0..<50 { traffic.record(try ModelVersion(1), nanos: 30_000_000, now: 0) }
        #expect(traffic.hedgeDelay(try ModelVersion(2), policy: policy, now: 0).nanoseconds / 1_000_000 == 1000)
    }

    @Test func theInFlightBoundAdmitsUpToItsLimit() {
        let traffic = ModelTraffic(model: "digits")
        #expect(traffic.admit(limit: 2) && traffic.admit(limit: 2))
        #expect(!traffic.admit(limit: 2))
        traffic.release(status: 200, nanos: 1_000_000, now: 0)
        #expect(traffic.admit(limit: 2))
        for _ in 0..<5 { traffic.release(status: 200, nanos: 1_000_000, now: 0) }
        #expect(traffic.inFlight == 0)
    }

    @Test func answersHedgesAndRefusalsReachTheDashboardHistory() {
        let traffic = ModelTraffic(model: "digits")
        let second: UInt64 = 1_000_000_000
        // The history starts at the monotonic clock's present; go a whole second past it.
        let start = (NIODeadline.now().uptimeNanoseconds / second + 1) * second
        #expect(traffic.admit(limit: 4))
        traffic.hedgeSent(now: start)
        traffic.hedgeWon(now: start)
        traffic.release(status: 200, nanos: 2_000_000, now: start)
        traffic.recordRefused(status: 503, nanos: 10_000, now: start)
        let snapshot = traffic.dashboardSnapshot(now: start + second)
        let point = snapshot.points.last
        #expect(point?.second == start / second)
        #expect(point?.requests == 2 && point?.serverErrors == 1 && point?.hedges == 1 && point?.hedgeWins == 1)
        #expect(point?.p999Micros.map { $0 >= 1_990 && $0 <= 2_010 } == true, "\(String(describing: point))")
        #expect(snapshot.inFlight == 0)
    }

    @Test func theRegistryHandsOutOneObjectPerModel() {
        let registry = ModelTrafficRegistry()
        #expect(registry.traffic(for: "a") === registry.traffic(for: "a"))
        #expect(registry.traffic(for: "a") !== registry.traffic(for: "b"))
    }
}
