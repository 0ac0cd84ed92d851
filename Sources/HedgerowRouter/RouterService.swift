import HedgerowCore
import HedgerowHTTP
import Logging
import NIOCore
import ServiceLifecycle

/// A router process: the client-facing server and the route watcher, as one `Service`.
public struct RouterService: Service {
    private let configuration: RouterConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger

    public init(configuration: RouterConfiguration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    public func run() async throws {
        let store = RoutingTableStore(cacheFile: configuration.routesCacheFile)
        if store.current.generation > 0 {
            logger.info("serving the cached routing table until the synchronizer answers", metadata: ["generation": "\(store.current.generation)"])
        }
        let client = HTTP2ClientPool(group: group)
        defer { client.shutdown() }
        let pool = UpstreamPool(outlierSettings: configuration.outliers, balancing: configuration.balancing)
        let responder = RouterResponder(configuration: configuration, store: store, transport: client, pool: pool, logger: logger)
        // Sampled inference records still queued are written before the process ends.
        defer { responder.inferenceLog.stop() }
        let server = HTTPServer(configuration: configuration.listen, responder: responder, group: group, logger: logger)
        let watcher = RouteWatcher(synchronizer: configuration.synchronizer, store: store, client: client, logger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.run() }
            group.addTask { try await watcher.run() }
            group.addTask { try await HealthProber(pool: pool, store: store, client: client, logger: logger).run() }
            group.addTask {
                try await CanaryReporter(synchronizer: configuration.synchronizer, scoreboard: responder.canaryMirror.scoreboard, client: client,
                                         adminToken: configuration.adminToken, logger: logger).run()
            }
        }
        try? await responder.comparisonThread.shutdownGracefully()
    }
}
