import HedgerowCore
import HedgerowHTTP
import HedgerowRuntime
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A worker process: the HTTP server, the model manager and (with a synchronizer) the heartbeat, as one
/// `Service` that ends on graceful shutdown.
public struct WorkerService: Service {
    private let configuration: WorkerConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger

    public init(configuration: WorkerConfiguration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    public func run() async throws {
        let inferencePool = NIOThreadPool(numberOfThreads: max(1, configuration.inferenceThreads))
        // How this worker's runs share the cores (see `BLAS.threads`): one batch per inference thread, each GEMM on
        // OpenBLAS's threads.
        logger.info("inference threads", metadata: ["inference": "\(max(1, configuration.inferenceThreads))", "blas": "\(BLAS.threads)"])
        inferencePool.start()
        let client = HTTP2ClientPool(group: group)
        let models = ModelManager(repository: ModelRepository(root: configuration.repository), inferencePool: inferencePool, lookupClient: client, logger: logger)
        models.crashOnLoad.withLockedValue { $0 = configuration.faultCrashOnLoad }
        // Requests mirrored to a canary run on a thread of their own at the lowest CPU priority (see `ShadowLane`).
        let shadowPool = NIOThreadPool(numberOfThreads: 1)
        shadowPool.start()
        let workerResponder = WorkerResponder(configuration: configuration, models: models, inferencePool: inferencePool, shadowPool: shadowPool)
        var responder: any HTTPResponder = workerResponder
        if let marker = configuration.faultCrashOnBody {
            logger.warning("fault injection: this worker crashes on any inference request whose body contains the marker given by --fault-crash-on-body")
            responder = CrashFaultResponder(wrapped: responder, marker: Array(marker.utf8))
        }
        let server = HTTPServer(configuration: configuration.listen, responder: responder, group: group, logger: logger)
        var services: [any Service] = [server]
        if let synchronizer = configuration.synchronizer {
            let message = WorkerHeartbeat(name: configuration.name, address: configuration.advertisedAddress, zone: configuration.zone, memoryMB: configuration.memoryMB)
            services.append(Heartbeat(synchronizer: synchronizer, message: message, interval: .milliseconds(Int(configuration.heartbeatIntervalSeconds * 1000)), client: client, token: configuration.adminToken, logger: logger))
        }
        defer { client.shutdown() }
        try await withThrowingDiscardingTaskGroup { group in
            for service in services {
                group.addTask { try await service.run() }
            }
        }
        try? await inferencePool.shutdownGracefully()
        try? await shadowPool.shutdownGracefully()
        workerResponder.shadows.drain()
        await models.shutdown()
    }
}
