import HedgerowCore
import NIOConcurrencyHelpers
import NIOCore

/// The latency windows of every model version this router sends to, shared by its event loops.
///
/// The hedge delay is recomputed at most every `refreshNanos` per model version and policy: a percentile over a
/// 10 s window moves little in 100 ms, and computing it merges five HDR histograms — far more work than the rest
/// of forwarding a request, so doing it per request was most of the router's own latency.
final class ModelLatencies: Sendable {
    private struct Entry {
        var window = LatencyWindow()
        var delay: (micros: UInt64, policy: HedgingPolicy, at: UInt64)?
    }

    private let entries = NIOLockedValueBox<[ModelVersionID: Entry]>([:])
    private let refreshNanos: UInt64

    init(refreshNanos: UInt64 = 100_000_000) {
        self.refreshNanos = refreshNanos
    }

    /// Records a successful attempt's latency (what the replica took, not what the client waited).
    func record(_ id: ModelVersionID, nanos: Int64, now: NIODeadline = .now()) {
        entries.withLockedValue { entries in
            entries[id, default: Entry()].window.record(micros: UInt64(max(nanos, 0) / 1000), now: now.uptimeNanoseconds)
        }
    }

    /// The hedge delay for the next request of `id`.
    func hedgeDelay(_ id: ModelVersionID, policy: HedgingPolicy, now: NIODeadline = .now()) -> TimeAmount {
        let t = now.uptimeNanoseconds
        let micros = entries.withLockedValue { entries in
            var entry = entries[id] ?? Entry()
            if let cached = entry.delay, cached.policy == policy, t >= cached.at, t - cached.at < refreshNanos { return cached.micros }
            let micros = HedgeDelay.micros(policy: policy, window: entry.window, now: t)
            entry.delay = (micros, policy, t)
            entries[id] = entry
            return micros
        }
        return .microseconds(Int64(micros))
    }
}
