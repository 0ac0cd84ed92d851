import Histogram

/// Recent latencies of one model version: `slices` HDR histograms of `sliceNanos` each (20 × 0.5 s = 10 s by
/// default), read newest first.
///
/// A percentile is taken over the **newest slices that together hold `enoughSamples`** and span at least
/// `minimumSpanNanos`, going back at most the whole window. So the window is as short as the request rate allows:
/// at 100 requests a second it is about one second, and after a load change (a busy stretch, then a quiet one)
/// the hedge delay follows within a second or two instead of the ten the whole window would take; a model with
/// a few requests a second still gets a percentile over up to 10 s of them.
///
/// A plain value: time is passed in (monotonic nanoseconds), so tests drive it without a clock. Values are
/// microseconds from 1 µs to 60 s at 2 significant digits (1 %: plenty for a hedge delay, and a tenth of the
/// memory and merge work of 3 digits).
public struct LatencyWindow: Sendable {
    private var slices: [Histogram<UInt32>]
    /// The epoch (`now / sliceNanos`) each slice holds samples of.
    private var sliceEpoch: [UInt64]
    private let sliceNanos: UInt64
    public let enoughSamples: UInt64
    public let minimumSpanNanos: UInt64

    public init(slices: Int = 20, sliceNanos: UInt64 = 500_000_000, enoughSamples: UInt64 = 100, minimumSpanNanos: UInt64 = 1_000_000_000) {
        precondition(slices >= 1 && sliceNanos > 0)
        self.slices = Array(repeating: Self.makeHistogram(), count: slices)
        self.sliceEpoch = Array(repeating: .max, count: slices)
        self.sliceNanos = sliceNanos
        self.enoughSamples = enoughSamples
        self.minimumSpanNanos = minimumSpanNanos
    }

    private static func makeHistogram() -> Histogram<UInt32> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .two)
    }

    /// Records one successful request's latency.
    public mutating func record(micros: UInt64, now: UInt64) {
        let index = slot(for: now)
        _ = slices[index].record(min(max(micros, 1), 60_000_000))
    }

    /// Samples anywhere in the whole window.
    public func count(now: UInt64) -> UInt64 {
        newestFirst(now).reduce(0) { $0 + slices[$1].totalCount }
    }

    /// The latency at `percentile` (0-100) over the newest slices that hold `enoughSamples` (see the type), in
    /// microseconds, or nil when the whole window holds fewer than `minimumSamples` (too few to say what "slow" is).
    public func percentile(_ percentile: Double, now: UInt64, minimumSamples: UInt64) -> UInt64? {
        var merged = Self.makeHistogram()
        var span: UInt64 = 0
        for i in newestFirst(now) {
            merged.add(slices[i])
            span = (now / sliceNanos - sliceEpoch[i]) * sliceNanos + now % sliceNanos
            if merged.totalCount >= enoughSamples && span >= minimumSpanNanos { break }
        }
        guard merged.totalCount >= minimumSamples else { return nil }
        return merged.valueAtPercentile(percentile)
    }

    /// Indices of the slices inside the window that hold samples, newest first.
    private func newestFirst(_ now: UInt64) -> [Int] {
        let epoch = now / sliceNanos
        return slices.indices
            .filter { i in slices[i].totalCount > 0 && sliceEpoch[i] <= epoch && epoch - sliceEpoch[i] < UInt64(slices.count) }
            .sorted { sliceEpoch[$0] > sliceEpoch[$1] }
    }

    /// The slice that holds `now`, cleared first if it last held an older epoch.
    private mutating func slot(for now: UInt64) -> Int {
        let epoch = now / sliceNanos
        let index = Int(epoch % UInt64(slices.count))
        if sliceEpoch[index] != epoch {
            slices[index].reset()
            sliceEpoch[index] = epoch
        }
        return index
    }
}
