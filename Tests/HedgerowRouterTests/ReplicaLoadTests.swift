import HedgerowRouter
import Testing

@Suite struct ReplicaLoadTests {
    let ms: UInt64 = 1_000_000

    func load(sample nanos: UInt64) -> ReplicaLoad {
        var load = ReplicaLoad()
        load.started(0, now: 0)
        load.ended(0, nanos: Int64(nanos), now: 0)
        return load
    }

    @Test func costWeighsLatencyByConcurrency() {
        var fast = load(sample: 1 * ms)
        let slow = load(sample: 4 * ms)
        // The fast replica stays cheaper until it has four times the requests in flight (all just started).
        for token in 1...2 { fast.started(ReplicaLoad.Token(token), now: 0) }
        #expect(fast.cost(now: 0) < slow.cost(now: 0))
        for token in 3...4 { fast.started(ReplicaLoad.Token(token), now: 0) }
        #expect(fast.cost(now: 0) > slow.cost(now: 0))
    }

    @Test func aNewReplicaIsFreeWhileIdleAndLastWhileBusy() {
        var known = load(sample: 1 * ms)
        for token in 1...100 { known.started(ReplicaLoad.Token(token), now: 0) }
        var new = ReplicaLoad()
        #expect(new.cost(now: 0) == 0)
        new.started(1, now: 0)
        #expect(new.cost(now: 0) > known.cost(now: 0))
    }

    /// A replica that froze while holding a request grows more expensive while the stall lasts, not only once
    /// the request comes back: the age of its oldest request is its latency.
    @Test func aStalledRequestRaisesTheCostAsItAges() {
        var frozen = load(sample: 1 * ms)
        let healthy = load(sample: 1 * ms)
        frozen.started(1, now: 0)
        #expect(frozen.cost(now: 1 * ms) == Double(2 * ms))
        #expect(frozen.cost(now: 20 * ms) == Double(40 * ms))
        #expect(frozen.cost(now: 20 * ms) > 10 * healthy.cost(now: 20 * ms))
    }

    /// Issue 12: a cancelled hedge loser used to end at once, as if the replica had answered in the hedge delay.
    /// Now it stays outstanding (and ageing) until the replica answers a probe sent after it was abandoned, and
    /// peak-EWMA learns the time until then: the length of the stall.
    @Test func anAbandonedAttemptCountsUntilTheReplicaIsResponsiveAgain() {
        var replica = load(sample: 1 * ms)
        var probeDue = false, moreProbes = false
        replica.started(1, now: 0)
        // The hedge won after 2 ms: the loser is reset, a probe is due.
        probeDue = replica.abandon(1, now: 2 * ms)
        #expect(probeDue)
        #expect(replica.outstanding == 1)
        replica.probeSent(now: 2 * ms)
        // Still frozen at 30 ms: the reset request counts and ages.
        #expect(replica.cost(now: 30 * ms) == Double(60 * ms))
        // The replica thaws at 50 ms and answers the probe: settled, and charged 50 ms.
        moreProbes = replica.probeEnded(now: 50 * ms)
        #expect(!moreProbes)
        #expect(replica.outstanding == 0)
        #expect(replica.latency.estimate(now: 50 * ms) == Double(50 * ms))
    }

    /// One slow request on a responsive replica (it answers the probe at once) is charged about what it had
    /// taken when it was abandoned, not more.
    @Test func aResponsiveReplicaIsChargedLittleForOneSlowRequest() {
        var replica = load(sample: 1 * ms)
        var probeDue = false, moreProbes = false
        replica.started(1, now: 0)
        probeDue = replica.abandon(1, now: 2 * ms)
        #expect(probeDue)
        replica.probeSent(now: 2 * ms)
        moreProbes = replica.probeEnded(now: 2 * ms + ms / 5)
        #expect(!moreProbes)
        let estimate = replica.latency.estimate(now: 2 * ms + ms / 5) ?? 0
        #expect(estimate >= Double(2 * ms) && estimate <= Double(2 * ms + ms / 5))
    }

    /// Attempts abandoned while a probe is out are not settled by it (the probe may have been answered before
    /// they were reset): they wait for the next one, which the caller is told to send.
    @Test func onlyOneProbeAtATimeAndLateAbandonsWaitForTheNext() {
        var replica = load(sample: 1 * ms)
        var probeDue = false, moreProbes = false
        replica.started(1, now: 0)
        replica.started(2, now: 0)
        probeDue = replica.abandon(1, now: 2 * ms)
        #expect(probeDue)
        replica.probeSent(now: 2 * ms)
        probeDue = replica.abandon(2, now: 3 * ms)
        #expect(!probeDue)  // a probe is out already
        moreProbes = replica.probeEnded(now: 4 * ms)
        #expect(moreProbes)   // 2 remains: send another
        #expect(replica.outstanding == 1)
        replica.probeSent(now: 4 * ms)
        moreProbes = replica.probeEnded(now: 5 * ms)
        #expect(!moreProbes)
        #expect(replica.outstanding == 0 && replica.isIdle)
    }

    @Test func lateEndsOfAbandonedAttemptsAreIgnored() {
        var replica = load(sample: 1 * ms)
        replica.started(1, now: 0)
        _ = replica.abandon(1, now: 2 * ms)
        replica.ended(1, nanos: Int64(90 * ms), now: 90 * ms)
        #expect(replica.outstanding == 1)
    }
}
