import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import Logging
import Metrics
import NIOCore
import ServiceLifecycle

/// Long-polls the synchronizer (`GET /v1/routes?after=N`) and installs each newer table. The data plane never
/// waits on this: when the synchronizer is unreachable the router keeps serving its last table, and this loop
/// retries once a second.
struct RouteWatcher: Service {
    let synchronizer: String
    let store: RoutingTableStore
    let client: HTTP2ClientPool
    let logger: Logger

    func run() async throws {
        var failing = false
        // Start from generation 0, not the cached one: the first answer is then the synchronizer's table, whatever
        // its number (the synchronizer is the authority, even if its clock was set back).
        var after = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let request = HTTPRequest(method: .GET, target: "/v1/routes?after=\(after)")
            do {
                let response = try await client.execute(request, to: synchronizer, timeout: .seconds(40)).response.get()
                guard response.status.code == 200 else { throw HTTPServerError(message: "synchronizer answered \(response.status.code)") }
                let table = try JSONDecoder().decode(RoutingTable.self, from: Data(response.body.readableBytesView))
                if failing { logger.info("routes reachable again", metadata: ["synchronizer": "\(synchronizer)"]) }
                failing = false
                if table.generation != after {
                    if let problem = store.replace(with: table) {
                        logger.warning("routing table installed but not cached: a restart cannot serve before the synchronizer answers", metadata: ["error": "\(problem)"])
                    }
                    after = table.generation
                    Gauge(label: MetricNames.routerRoutingGeneration).record(table.generation)
                    // Each replica's ejection counter starts at 0, so that its first ejection is an increase.
                    for address in Set(table.models.values.flatMap { $0.versions.values.joined() }) {
                        _ = Counter(label: MetricNames.routerEjections, dimensions: [("replica", address)])
                    }
                    logger.info("routing table installed", metadata: ["generation": "\(table.generation)", "models": "\(table.models.keys.sorted())"])
                }
            } catch {
                if !failing {
                    logger.warning("cannot fetch routes; serving the last table", metadata: ["synchronizer": "\(synchronizer)", "error": "\(error)"])
                }
                failing = true
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
