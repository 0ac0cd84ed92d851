import HedgerowCore
import HedgerowMetrics
import Metrics
import NIOConcurrencyHelpers

/// The synchronizer's `CanaryVerdicts`, shared by the control loop (which sets the desired canaries and writes
/// aborts into each table it publishes) and the HTTP API (routers' reports), behind one lock; and the
/// `hedgerow_sync_canary_state` gauges.
final class CanaryRegistry: Sendable {
    private let state = NIOLockedValueBox(CanaryVerdicts())
    private let gauges = NIOLockedValueBox<[String: (candidate: Int, running: Gauge, aborted: Gauge)]>([:])

    func withVerdicts<T>(_ body: (inout CanaryVerdicts) -> T) -> T { state.withLockedValue(body) }

    var statuses: [CanaryStatus] { state.withLockedValue { $0.statuses() } }

    /// Sets `hedgerow_sync_canary_state{model,candidate,state}` from the statuses: 1 for the state each canary is
    /// in, 0 for the other; the series of a canary no longer desired (or of its previous candidate) are removed.
    func publishGauges() {
        let statuses = self.statuses
        gauges.withLockedValue { gauges in
            let current = Dictionary(statuses.map { ($0.model, $0) }, uniquingKeysWith: { a, _ in a })
            for (model, entry) in gauges where current[model]?.candidate != entry.candidate {
                entry.running.destroy()
                entry.aborted.destroy()
                gauges[model] = nil
            }
            for status in statuses {
                let entry = gauges[status.model] ?? {
                    let dimensions = [("model", status.model), ("candidate", String(status.candidate))]
                    return (status.candidate, Gauge(label: MetricNames.syncCanaryState, dimensions: dimensions + [("state", "running")]),
                            Gauge(label: MetricNames.syncCanaryState, dimensions: dimensions + [("state", "aborted")]))
                }()
                gauges[status.model] = entry
                entry.running.record(status.state == "running" ? 1 : 0)
                entry.aborted.record(status.state == "aborted" ? 1 : 0)
            }
        }
    }
}
