/// The hedge delay of a model: the policy's latency percentile over the recent window, clamped to
/// `[minDelayMs, maxDelayMs]`; `maxDelayMs` until the window holds `minimumSamples` samples.
///
/// Why a percentile: a backup sent after the p95 of normal latency fires for about 5% of requests when the pool
/// is healthy, and for nearly all of those stuck behind a straggler. When the whole pool slows down (a
/// brownout), the percentile rises with it, so the delay grows and hedging backs off by itself instead of doubling
/// the load; the budget caps what remains.
public enum HedgeDelay {
    public static let minimumSamples: UInt64 = 20

    /// Delay in microseconds.
    public static func micros(policy: HedgingPolicy, window: LatencyWindow, now: UInt64) -> UInt64 {
        let lower = UInt64(policy.minDelayMs) * 1000, upper = UInt64(policy.maxDelayMs) * 1000
        guard let p = window.percentile(policy.percentile, now: now, minimumSamples: minimumSamples) else { return upper }
        return min(max(p, lower), upper)
    }
}
