import HedgerowRouter
import Testing

@Suite struct PeakEWMATests {
    let ms = 1_000_000.0
    let second: UInt64 = 1_000_000_000

    @Test func aSlowSampleTakesOverAtOnce() {
        var ewma = PeakEWMA()
        ewma.observe(nanos: 1 * ms, now: 0)
        ewma.observe(nanos: 50 * ms, now: 1_000)
        #expect(ewma.estimate(now: 1_000)! == 50 * ms)
    }

    @Test func fastSamplesPullItDownWithTime() {
        var ewma = PeakEWMA(decay: 1e9)
        ewma.observe(nanos: 50 * ms, now: 0)
        // One fast sample right after barely moves it: the weight of the past depends on elapsed time.
        ewma.observe(nanos: 1 * ms, now: 1_000_000)
        #expect(ewma.estimate(now: 1_000_000)! > 49 * ms)
        // Fast samples over a few time constants bring it close to the new latency.
        for i in 1...50 { ewma.observe(nanos: 1 * ms, now: UInt64(i) * second / 10) }
        let settled = ewma.estimate(now: 5 * second)!
        #expect(settled > 1 * ms && settled < 2 * ms, "\(settled)")
    }

    @Test func anIdleEstimateDecaysSoTheReplicaIsTriedAgain() {
        var ewma = PeakEWMA(decay: 1e9)
        ewma.observe(nanos: 100 * ms, now: 0)
        #expect(ewma.estimate(now: 3 * second)! < 100 * ms * 0.06)
    }
}
