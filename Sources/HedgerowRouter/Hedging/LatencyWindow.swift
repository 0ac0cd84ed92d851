import Histogram

/// Recent latencies of one model version, in a rotating window: `slices` HDR histograms of `sliceNanos` each,
/// so samples older than `slices × sliceNanos` leave the window whole-slice at a time (10 s by default).
///
/// A plain value: time is passed in (monotonic nanoseconds), so tests drive it without a clock.
/// Values are microseconds from 1 µs to 60 s at 3 significant digits.
public struct LatencyWindow: Sendable {
    private var slices: [Histogram<UInt32>]
    /// The epoch (`now / sliceNanos`) each slice holds samples of.
    private var sliceEpoch: [UInt64]
    private let sliceNanos: UInt64

    public init(slices: Int = 5, sliceNanos: UInt64 = 2_000_000_000) {
        precondition(slices >= 1 && sliceNanos > 0)
        self.slices = Array(repeating: Self.makeHistogram(), count: slices)
        self.sliceEpoch = Array(repeating: 0, count: slices)
        self.sliceNanos = sliceNanos
    }

    private static func makeHistogram() -> Histogram<UInt32> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    }

    /// Records one successful request's latency.
    public mutating func record(micros: UInt64, now: UInt64) {
        let index = slot(for: now)
        _ = slices[index].record(min(max(micros, 1), 60_000_000))
    }

    /// Samples currently in the window.
    public func count(now: UInt64) -> UInt64 {
        live(now).reduce(0) { $0 + slices[$1].totalCount }
    }

    /// The latency at `percentile` (0-100) over the live window, in microseconds, or nil when it holds fewer than
    /// `minimumSamples` samples (too few to say what "slow" is).
    public func percentile(_ percentile: Double, now: UInt64, minimumSamples: UInt64) -> UInt64? {
        let indices = live(now)
        guard indices.reduce(0, { $0 + slices[$1].totalCount }) >= minimumSamples else { return nil }
        var merged = Self.makeHistogram()
        for i in indices { merged.add(slices[i]) }
        return merged.valueAtPercentile(percentile)
    }

    private func live(_ now: UInt64) -> [Int] {
        let epoch = now / sliceNanos
        return slices.indices.filter { i in
            slices[i].totalCount > 0 && epoch >= sliceEpoch[i] && epoch - sliceEpoch[i] < UInt64(slices.count)
        }
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
