import HedgerowCore
import NIOConcurrencyHelpers
import NIOCore

/// The latency windows of every model version this router sends to, shared by its event loops.
final class ModelLatencies: Sendable {
    private let windows = NIOLockedValueBox<[String: LatencyWindow]>([:])

    /// Records a successful attempt's latency (what the replica took, not what the client waited).
    func record(_ id: ModelVersionID, nanos: Int64, now: NIODeadline = .now()) {
        let key = id.description
        windows.withLockedValue { windows in
            windows[key, default: LatencyWindow()].record(micros: UInt64(max(nanos, 0) / 1000), now: now.uptimeNanoseconds)
        }
    }

    /// The hedge delay for the next request of `id`.
    func hedgeDelay(_ id: ModelVersionID, policy: HedgingPolicy, now: NIODeadline = .now()) -> TimeAmount {
        let micros = windows.withLockedValue { windows in
            HedgeDelay.micros(policy: policy, window: windows[id.description] ?? LatencyWindow(), now: now.uptimeNanoseconds)
        }
        return .microseconds(Int64(micros))
    }
}
