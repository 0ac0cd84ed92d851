import ArgumentParser
import HedgerowHTTP
import HedgerowSynchronizer
import Logging

struct SynchronizerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synchronizer",
        abstract: "Run the synchronizer: reconciles the desired-state YAML to the workers and publishes routes."
    )

    @Option(help: "Address to listen on, HOST:PORT.") var listen = "127.0.0.1:8600"
    @Option(help: "Desired-state YAML file (watched; edits apply while running).") var desired = "Configs/desired-state.yaml"
    @Option(help: "File holding the bearer token for the workers' admin API.") var adminTokenFile: String?
    @Option(help: "Seconds without heartbeat or answer after which a worker is dead.") var workerDeadAfter = 3.0
    @Option(help: "Replicas loading at once on one worker (a big rollout queues instead of starving inference).") var maxLoadsPerWorker = 2
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = Logger.Level.info
    @Option(help: .hidden) var exitWithParent: Int32?

    func validate() throws {
        guard maxLoadsPerWorker >= 1 else { throw ValidationError("--max-loads-per-worker must be ≥ 1, got \(maxLoadsPerWorker)") }
        guard workerDeadAfter > 0 else { throw ValidationError("--worker-dead-after must be > 0, got \(workerDeadAfter)") }
    }

    func run() async throws {
        let configuration = SynchronizerConfiguration(
            listen: try HTTPServerConfiguration(listen: normalizeAddress(listen)), desiredStateFile: desired,
            adminToken: try readToken(adminTokenFile), workerDeadAfterSeconds: workerDeadAfter, maxLoadsPerWorker: maxLoadsPerWorker
        )
        try await RoleRunner.run(role: "synchronizer", logLevel: logLevel, exitWithParent: exitWithParent) { group, logger in
            SynchronizerService(configuration: configuration, group: group, logger: logger)
        }
    }
}
