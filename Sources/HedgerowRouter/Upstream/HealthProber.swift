import HedgerowHTTP
import Logging
import NIOCore
import ServiceLifecycle

/// Returns ejected replicas to service: once a replica's ejection period has passed, asks it
/// `GET /v2/health/ready` and reports the answer to the pool (healthy: back in; anything else: ejected for
/// longer). Also makes the pool forget replicas that left the routing table.
struct HealthProber: Service {
    let pool: UpstreamPool
    let store: RoutingTableStore
    let client: HTTP2ClientPool
    let logger: Logger
    var interval: Duration = .milliseconds(250)
    var probeTimeout: TimeAmount = .seconds(1)

    func run() async throws {
        var generation = -1
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let table = store.current
            if table.generation != generation {
                generation = table.generation
                pool.retain(Set(table.models.values.flatMap { $0.versions.values.joined() }))
            }
            let due = pool.dueForProbe(now: NIODeadline.now().uptimeNanoseconds)
            await withTaskGroup(of: Void.self) { group in
                for replica in due {
                    group.addTask { await probe(replica) }
                }
            }
            try? await Task.sleep(for: interval)
        }
    }

    private func probe(_ replica: String) async {
        let request = HTTPRequest(method: .GET, target: "/v2/health/ready")
        let healthy: Bool
        let detail: String
        do {
            let response = try await client.execute(request, to: replica, timeout: probeTimeout).response.get()
            healthy = response.status.code == 200
            detail = "answered \(response.status.code)"
        } catch {
            healthy = false
            detail = "\(error)"
        }
        pool.recordProbe(replica, healthy: healthy, now: NIODeadline.now().uptimeNanoseconds)
        if healthy {
            logger.info("replica returned to service: health probe passed", metadata: ["replica": "\(replica)"])
        } else {
            logger.warning("replica stays ejected: health probe failed", metadata: ["replica": "\(replica)", "probe": "\(detail)"])
        }
    }
}
