import HedgerowRouter
import Testing

@Suite struct OutlierDetectorTests {
    let s: UInt64 = 1_000_000_000

    func detector(failures: Int = 5) -> OutlierDetector {
        var settings = OutlierDetector.Settings()
        settings.consecutiveFailures = failures
        settings.baseEjection = 2 * s
        settings.maxEjection = 10 * s
        return OutlierDetector(settings: settings)
    }

    @Test func ejectsAfterConsecutiveFailuresOnly() {
        var d = detector()
        for _ in 0..<4 { do { let ejected = d.recordFailure("a", connectFailed: false, now: 0); #expect(!ejected) } }
        d.recordSuccess("a")  // the run is broken: count starts again
        for _ in 0..<4 { do { let ejected = d.recordFailure("a", connectFailed: false, now: 0); #expect(!ejected) } }
        do { let ejected = d.recordFailure("a", connectFailed: false, now: 0); #expect(ejected) }
        #expect(d.isEjected("a"))
        #expect(d.ejected == ["a"])
    }

    @Test func aRefusedConnectionEjectsAtOnce() {
        var d = detector()
        do { let ejected = d.recordFailure("a", connectFailed: true, now: 0); #expect(ejected) }
        // Further failures while ejected change nothing.
        do { let ejected = d.recordFailure("a", connectFailed: true, now: 0); #expect(!ejected) }
    }

    @Test func probedAfterThePeriodAndReturnedWhenHealthy() {
        var d = detector()
        _ = d.recordFailure("a", connectFailed: true, now: 0)
        #expect(d.dueForProbe(now: 2 * s - 1).isEmpty)
        #expect(d.dueForProbe(now: 2 * s) == ["a"])
        d.recordProbe("a", healthy: true, now: 2 * s)
        #expect(!d.isEjected("a"))
        #expect(d.dueForProbe(now: 100 * s).isEmpty)
    }

    @Test func theEjectionPeriodDoublesOnRepeatUpToTheMaximum() {
        var d = detector()
        _ = d.recordFailure("a", connectFailed: true, now: 0)        // 2 s
        d.recordProbe("a", healthy: false, now: 2 * s)                // 4 s, until 6 s
        #expect(d.dueForProbe(now: 6 * s - 1).isEmpty)
        #expect(d.dueForProbe(now: 6 * s) == ["a"])
        d.recordProbe("a", healthy: false, now: 6 * s)                // 8 s, until 14 s
        #expect(d.dueForProbe(now: 14 * s) == ["a"])
        d.recordProbe("a", healthy: false, now: 14 * s)               // 16 s capped to 10 s, until 24 s
        #expect(d.dueForProbe(now: 24 * s - 1).isEmpty)
        #expect(d.dueForProbe(now: 24 * s) == ["a"])
        // Returned, then failing again soon after: the period keeps growing (still capped).
        d.recordProbe("a", healthy: true, now: 24 * s)
        _ = d.recordFailure("a", connectFailed: true, now: 25 * s)
        #expect(d.dueForProbe(now: 35 * s - 1).isEmpty)
        // In service for longer than the maximum period: back to the base period.
        d.recordProbe("a", healthy: true, now: 35 * s)
        _ = d.recordFailure("a", connectFailed: true, now: 50 * s)
        #expect(d.dueForProbe(now: 52 * s) == ["a"])
    }

    @Test func neverLeavesOutMoreThanHalfAPool() {
        var d = detector()
        for (i, r) in ["a", "b", "c"].enumerated() { _ = d.recordFailure(r, connectFailed: true, now: UInt64(i) * s) }
        // Three of four ejected: only two may be left out, the ones ejected last; a (ends first) stays usable.
        #expect(d.usable(["a", "b", "c", "d"]) == ["a", "d"])
        // A two-replica pool with both ejected still keeps one.
        #expect(d.usable(["a", "b"]) == ["a"])
        // A single replica is never left out.
        #expect(d.usable(["c"]) == ["c"])
        #expect(d.usable(["d", "e"]) == ["d", "e"])
    }

    @Test func forgetsReplicasThatLeftTheRoutes() {
        var d = detector()
        _ = d.recordFailure("a", connectFailed: true, now: 0)
        d.retain(["b"])
        #expect(!d.isEjected("a"))
        #expect(d.dueForProbe(now: 10 * s).isEmpty)
    }
}
