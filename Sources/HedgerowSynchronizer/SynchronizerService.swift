import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// The control plane's loop: every interval it rereads the desired state (if changed), asks every known worker
/// what it holds, plans, sends loads and unloads, and publishes routes. It keeps nothing that cannot be rebuilt
/// from the file and the workers, so it can be restarted at any time: a fresh one adopts what is loaded.
public struct SynchronizerService: Service {
    private let configuration: SynchronizerConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger

    public init(configuration: SynchronizerConfiguration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    public func run() async throws {
        let start = ContinuousClock.now
        let clock: @Sendable () -> Double = { (ContinuousClock.now - start).inSeconds }
        // Generations continue above any a previous run published (see RoutesPublisher).
        let publisher = RoutesPublisher(firstGeneration: Int(Date().timeIntervalSince1970 * 1000))
        let inventory = WorkerInventory(deadAfter: configuration.workerDeadAfterSeconds)
        let report = NIOLockedValueBox(SynchronizerStateReport(
            configFile: configuration.desiredStateFile, configHash: nil, configAppliedAt: nil, lastConfigError: nil,
            generation: publisher.current.generation, workers: [], versions: []
        ))
        let client = HTTP2ClientPool(group: group)
        defer { client.shutdown() }
        let poisoned = PoisonRegistry()
        let canaries = CanaryRegistry()
        let responder = SynchronizerResponder(
            publisher: publisher, inventory: inventory, report: report, poisoned: poisoned, canaries: canaries, adminToken: configuration.adminToken,
            clock: clock, logger: logger
        )
        let server = HTTPServer(configuration: configuration.listen, responder: responder, group: group, logger: logger)
        let initialLoop = ReconcileLoop(
            configuration: configuration, admin: AdminClient(
                client: client, loops: Array(group.makeIterator()), token: configuration.adminToken,
                stateTimeout: .milliseconds(Int64(configuration.heartbeatIntervalSeconds * 1000))
            ),
            publisher: publisher, inventory: inventory, report: report, poisoned: poisoned, canaries: canaries, clock: clock, logger: logger
        )
        let roundDuration = Timer(label: MetricNames.syncRoundDuration)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.run() }
            group.addTask {
                var loop = initialLoop
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    let started = NIODeadline.now()
                    await loop.tick()
                    roundDuration.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
                    try? await Task.sleep(for: .milliseconds(Int(configuration.reconcileIntervalSeconds * 1000)))
                }
            }
        }
    }
}
