import HedgerowCore
import Testing

@Suite struct LatencyWindowTests {
    let second: UInt64 = 1_000_000_000

    @Test func percentileOfRecentSamples() {
        var window = LatencyWindow()
        for i in 1...100 { window.record(micros: UInt64(i) * 100, now: 0) }  // 100 µs ... 10 ms
        let p95 = window.percentile(95, now: second, minimumSamples: 20)!
        #expect(p95 >= 9_400 && p95 <= 9_700, "\(p95)")  // 2 significant digits: within 1 %
        #expect(window.count(now: second) == 100)
    }

    @Test func oldSamplesLeaveTheWindow() {
        var window = LatencyWindow(slices: 5, sliceNanos: 2 * second)  // 10 s
        for _ in 0..<50 { window.record(micros: 50_000, now: 0) }       // a slow spell at t=0
        for _ in 0..<50 { window.record(micros: 1_000, now: 9 * second) }
        #expect(window.count(now: 9 * second) == 100)
        // At t=11 s the t=0 slice is out: only the fast samples count.
        #expect(window.count(now: 11 * second) == 50)
        let p99 = window.percentile(99, now: 11 * second, minimumSamples: 20)!
        #expect(p99 < 1_100, "\(p99)")
        // Long after, nothing is left.
        #expect(window.count(now: 100 * second) == 0)
        #expect(window.percentile(50, now: 100 * second, minimumSamples: 1) == nil)
    }

    @Test func tooFewSamplesGiveNoPercentile() {
        var window = LatencyWindow()
        for _ in 0..<19 { window.record(micros: 10, now: 0) }
        #expect(window.percentile(95, now: 0, minimumSamples: 20) == nil)
    }

    @Test func delayIsClampedAndFallsBackToTheMaximum() throws {
        let policy = try HedgingPolicy(percentile: 95, budgetPercent: 5, minDelayMs: 2, maxDelayMs: 40)
        var window = LatencyWindow()
        #expect(HedgeDelay.micros(policy: policy, window: window, now: 0) == 40_000)  // no samples yet
        for _ in 0..<100 { window.record(micros: 300, now: 0) }
        #expect(HedgeDelay.micros(policy: policy, window: window, now: 0) == 2_000)   // p95 = 0.3 ms, clamped up
        for _ in 0..<1000 { window.record(micros: 900_000, now: 0) }
        #expect(HedgeDelay.micros(policy: policy, window: window, now: 0) == 40_000)  // brownout: clamped down
        var fast = LatencyWindow()
        for _ in 0..<100 { fast.record(micros: 7_000, now: 0) }
        let d = HedgeDelay.micros(policy: policy, window: fast, now: 0)
        #expect(d >= 6_930 && d <= 7_070, "\(d)")
    }

    @Test func aBrownoutRaisesTheDelaySoHedgingBacksOff() throws {
        let policy = try HedgingPolicy(percentile: 95, budgetPercent: 5, minDelayMs: 1, maxDelayMs: 1000)
        var window = LatencyWindow()
        for i in 0..<1000 { window.record(micros: 1_000 + UInt64(i % 100) * 10, now: 0) }  // healthy: 1-2 ms
        let healthy = HedgeDelay.micros(policy: policy, window: window, now: 0)
        // The whole pool slows to 20-40 ms for longer than the window: a brownout, not a straggler.
        let later: UInt64 = 12_000_000_000
        let slow = (0..<1000).map { 20_000 + UInt64($0 % 100) * 200 }
        for v in slow { window.record(micros: v, now: later) }
        let delay = HedgeDelay.micros(policy: policy, window: window, now: later)
        #expect(delay > 10 * healthy)
        // Only requests slower than the new p95 would be hedged: about 5%, the load is not doubled ...
        #expect(slow.filter { $0 > delay }.count <= 60)
        // ... where a delay fixed at its healthy value would have hedged every one of them.
        #expect(slow.filter { $0 > healthy }.count == 1000)
    }

    /// Issue 12: after ten seconds at full speed (p95 ≈ 3 ms) the load drops to 100 requests a second (≈ 1 ms).
    /// The hedge delay must be within 20 % of its new value within 2 s; the whole 10 s window took 10 s.
    @Test func theDelayFollowsALoadStepWithinTwoSeconds() throws {
        let policy = try HedgingPolicy(percentile: 95, budgetPercent: 5, minDelayMs: 0, maxDelayMs: 1000)
        var window = LatencyWindow()
        let ms: UInt64 = 1_000_000
        for i in 0..<10_000 { window.record(micros: 2_000 + UInt64(i % 100) * 12, now: UInt64(i) * ms) }  // 1000/s, 2-3.2 ms
        let step: UInt64 = 10_000 * ms
        var settled: UInt64?
        for i in 0..<1_500 {  // 100/s, 0.8-1.0 ms, for 15 s
            let now = step + UInt64(i) * 10 * ms
            window.record(micros: 800 + UInt64(i % 20) * 10, now: now)
            let delay = Double(HedgeDelay.micros(policy: policy, window: window, now: now))
            if abs(delay - 990) <= 0.2 * 990 { settled = settled ?? now - step } else { settled = nil }
        }
        let after = try #require(settled)
        #expect(after <= 2_000 * ms, "settled \(after / ms) ms after the step")
    }

    /// A quiet model still gets a percentile over the whole window.
    @Test func aQuietModelUsesTheWholeWindow() {
        var window = LatencyWindow()
        let second: UInt64 = 1_000_000_000
        for i in 0..<30 { window.record(micros: 1_000, now: UInt64(i) * second / 4) }  // 4/s for 7.5 s
        #expect(window.percentile(95, now: 8 * second, minimumSamples: 20) != nil)
    }
}
