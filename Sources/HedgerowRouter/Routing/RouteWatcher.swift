import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import Logging
import Metrics
import NIOCore
import ServiceLifecycle

/// Long-polls the synchronizer (`GET /v1/routes?after=N&delta=1`) and installs each update (`RoutesUpdate`: a
/// delta onto the generation held, or a whole table). The data plane never
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
            // Deltas: only the models changed since `after` travel (the whole table when the synchronizer no longer
            // holds that history, or restarted).
            let request = HTTPRequest(method: .GET, target: "/v1/routes?after=\(after)&delta=1")
            do {
                let response = try await client.execute(request, to: synchronizer, timeout: .seconds(40)).response.get()
                guard response.status.code == 200 else { throw HTTPServerError(message: "synchronizer answered \(response.status.code)") }
                let update = try JSONDecoder().decode(RoutesUpdate.self, from: Data(response.body.readableBytesView))
                if failing { logger.info("routes reachable again", metadata: ["synchronizer": "\(synchronizer)"]) }
                failing = false
                guard update.generation != after else { continue }
                switch store.apply(update) {
                case .stale(let held):
                    // A delta from a generation this router does not hold: start over from the whole table.
                    logger.info("routes delta from generation \(update.after ?? 0) does not apply to generation \(held); asking for the whole table")
                    after = 0
                    continue
                case .installed(let problem):
                    if let problem {
                        logger.warning("routing table installed but not cached: a restart cannot serve before the synchronizer answers", metadata: ["error": "\(problem)"])
                    }
                }
                after = update.generation
                Gauge(label: MetricNames.routerRoutingGeneration).record(update.generation)
                // Each replica's ejection counter starts at 0, so that its first ejection is an increase.
                for address in Set(update.models.values.flatMap { $0.versions.values.joined() }) {
                    _ = Counter(label: MetricNames.routerEjections, dimensions: [("replica", address)])
                }
                logger.info("routing table installed", metadata: [
                    "generation": "\(update.generation)", update.isDelta ? "changed" : "models": "\(update.models.keys.sorted())",
                    "removed": "\(update.removed ?? [])",
                ])
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
