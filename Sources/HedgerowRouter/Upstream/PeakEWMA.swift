import Foundation

/// A replica's latency as Finagle's and Linkerd's balancers track it: a moving average that jumps to any sample
/// above it and decays towards faster samples (and, when idle, towards zero) with time constant `decay`.
///
/// Why peak-sensitive: a replica that turns slow must lose traffic at once, while one fast answer must not
/// erase a slow history. Why decay with time and not per sample: the weight of the past then does not depend on
/// the request rate, and an idle replica that was slow is tried again after a while instead of being starved.
/// Times are nanoseconds on a monotonic clock.
public struct PeakEWMA: Sendable {
    /// The time constant of the decay, nanoseconds.
    public let decay: Double
    private var average: Double = 0
    private var stamp: UInt64 = 0
    private var hasSample = false

    public init(decay: Double = 10e9) {
        self.decay = decay
    }

    public mutating func observe(nanos: Double, now: UInt64) {
        let sample = max(nanos, 0)
        if !hasSample || sample > average {
            average = sample
        } else {
            let w = weight(now: now)
            average = average * w + sample * (1 - w)
        }
        hasSample = true
        stamp = max(stamp, now)
    }

    /// The latency estimate at `now`, decayed towards zero since the last sample; nil before the first one.
    public func estimate(now: UInt64) -> Double? {
        hasSample ? average * weight(now: now) : nil
    }

    private func weight(now: UInt64) -> Double {
        let elapsed = now > stamp ? Double(now - stamp) : 0
        return exp(-elapsed / decay)
    }
}
