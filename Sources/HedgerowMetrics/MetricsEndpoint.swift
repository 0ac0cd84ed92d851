import HedgerowCore
import HedgerowHTTP
import Metrics
import NIOCore
import Prometheus

/// The process-wide Prometheus registry behind swift-metrics, and the `/metrics` page rendered from it.
///
/// `bootstrap()` must run once per process before any metric is created (the CLI does it); code records through
/// the swift-metrics API (`Counter`, `Timer`, `Gauge`, `Recorder`) and never talks to Prometheus directly.
public enum MetricsEndpoint {
    public static let registry = PrometheusCollectorRegistry()

    /// Latency buckets from 100 µs to 10 s: serving latencies live at the low end.
    public static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// CPU, memory and file descriptors of this process, refreshed at each scrape.
    static let process = ProcessMetrics(registry: registry)

    /// Sets swift-metrics up to record into `registry`, and publishes `hedgerow_build_info{version,role}` = 1, so
    /// that dashboards can tell the roles apart and join process metrics to them by `instance`.
    /// `role` is router, worker or synchronizer.
    public static func bootstrap(role: String) {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = latencyBuckets
        factory.defaultValueHistogramBuckets = [1, 2, 4, 8, 16, 32, 64, 128]
        // Differences between a canary's answers and stable's: from float rounding (1e-7) to unrelated (10).
        factory.valueHistogramBuckets[MetricNames.routerCanaryMaxAbsDifference] = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10]
        MetricsSystem.bootstrap(factory)
        let info = MetricNameDescriptor(metricName: MetricNames.buildInfo, unitName: "", helpText: "Always 1: the version and role of this process.")
        registry.makeGauge(descriptor: info, labels: [("version", HedgerowVersion.current), ("role", role)]).set(to: 1.0)
    }

    /// `GET /metrics` in the Prometheus text exposition format.
    public static func response() -> HTTPResponse {
        process.update()
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return HTTPResponse(
            status: .ok,
            headers: ["content-type": "text/plain; version=0.0.4; charset=utf-8"],
            body: ByteBuffer(bytes: buffer)
        )
    }
}
