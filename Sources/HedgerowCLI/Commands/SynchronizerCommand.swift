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
    @Option(help: "Seconds between worker heartbeats (as the workers' --heartbeat-interval); 3 missed make a worker dead.") var heartbeatInterval = 1.0
    @Option(help: "Replicas loading at once on one worker (a big rollout queues instead of starving inference).") var maxLoadsPerWorker = 2
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = Logger.Level.info
    @Option(help: .hidden) var exitWithParent: Int32?

    func validate() throws {
        guard maxLoadsPerWorker >= 1 else { throw ValidationError("--max-loads-per-worker must be ≥ 1, got \(maxLoadsPerWorker)") }
        guard heartbeatInterval > 0 else { throw ValidationError("--heartbeat-interval must be > 0, got \(heartbeatInterval)") }
    }

    func run() async throws {
        let configuration = SynchronizerConfiguration(
            listen: try HTTPServerConfiguration(listen: normalizeAddress(listen)), desiredStateFile: desired,
            adminToken: try readToken(adminTokenFile), heartbeatIntervalSeconds: heartbeatInterval, maxLoadsPerWorker: maxLoadsPerWorker
        )
        try await RoleRunner.run(role: "synchronizer", logLevel: logLevel, exitWithParent: exitWithParent) { group, logger in
            SynchronizerService(configuration: configuration, group: group, logger: logger)
        }
    }
}
