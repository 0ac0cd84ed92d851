import HedgerowCore
import HedgerowMetrics
import Metrics

/// The synchronizer's gauges, set from each reconcile round's report: per model version the replicas desired,
/// ready and unplaced; per model the versions poisoned now; workers alive and dead; whether the file on disk is
/// refused.
///
/// A version that leaves the plan has its gauges removed, not left at their last values: a stale
/// "ready 1 < desired 2" for a version nobody asks for any more would keep an alert firing forever.
struct SynchronizerGauges {
    private struct VersionGauges {
        let desired, ready, unplaced: Gauge
    }

    private var versions: [ModelVersionID: VersionGauges] = [:]
    private var poisoned: [String: Gauge] = [:]
    private let alive = Gauge(label: MetricNames.syncWorkers, dimensions: [("state", "alive")])
    private let dead = Gauge(label: MetricNames.syncWorkers, dimensions: [("state", "dead")])
    private let refused = Gauge(label: MetricNames.syncConfigRefused)

    struct VersionCounts: Equatable {
        var desired, ready, assigned: Int
        /// Replicas the plan could not give a worker.
        var unplaced: Int { max(desired - assigned, 0) }
    }

    /// `poisoned`: per model (every model of the desired state, and any with a poisoned version), versions
    /// poisoned now.
    mutating func publish(
        versions counts: [ModelVersionID: VersionCounts], workersAlive: Int, workersDead: Int, configRefused: Bool, poisoned poisonedNow: [String: Int]
    ) {
        for (id, gauges) in versions where counts[id] == nil {
            gauges.desired.destroy()
            gauges.ready.destroy()
            gauges.unplaced.destroy()
            versions[id] = nil
        }
        for (id, count) in counts {
            let gauges = versions[id] ?? Self.gauges(for: id)
            versions[id] = gauges
            gauges.desired.record(count.desired)
            gauges.ready.record(count.ready)
            gauges.unplaced.record(count.unplaced)
        }
        for (model, gauge) in poisoned where poisonedNow[model] == nil {
            gauge.destroy()
            poisoned[model] = nil
        }
        for (model, count) in poisonedNow {
            let gauge = poisoned[model] ?? Gauge(label: MetricNames.syncVersionsPoisoned, dimensions: [("model", model)])
            poisoned[model] = gauge
            gauge.record(count)
        }
        alive.record(workersAlive)
        dead.record(workersDead)
        refused.record(configRefused ? 1 : 0)
    }

    private static func gauges(for id: ModelVersionID) -> VersionGauges {
        let dimensions = [("model", id.model.rawValue), ("version", String(id.version.number))]
        return VersionGauges(
            desired: Gauge(label: MetricNames.syncDesiredReplicas, dimensions: dimensions),
            ready: Gauge(label: MetricNames.syncReadyReplicas, dimensions: dimensions),
            unplaced: Gauge(label: MetricNames.syncUnplacedReplicas, dimensions: dimensions)
        )
    }
}
