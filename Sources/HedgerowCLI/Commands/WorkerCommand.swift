import ArgumentParser
import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowRuntime
import HedgerowSynchronizer
import HedgerowWorker
import Logging

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: loads model versions on command and answers inference requests (h2c and HTTP/1.1)."
    )

    @Option(help: "Address to listen on, HOST:PORT.") var listen = "127.0.0.1:8701"
    @Option(help: "Unique worker name.") var name = "w1"
    @Option(help: "Zone label used by `spreadBy: zone` placement.") var zone = "default"
    @Option(help: "Model repository root: <repository>/<model>/<version>/model.onnx.") var repository = "Models"
    @Option(help: "Synchronizer to register with by heartbeat, HOST:PORT (optional).") var synchronizer: String?
    @Option(help: "File holding the bearer token the admin API requires; without it /admin/* answers 401.") var adminTokenFile: String?
    @Option(help: "Address others reach this worker at, HOST:PORT (default: the listen address).") var advertise: String?
    @Option(name: .customLong("memory-mb"), help: "Memory offered for models, MiB (reported for placement).") var memoryMB = 2048
    @Option(help: "Largest request body accepted, bytes (413 above).") var maxBodyBytes = HTTPServerConfiguration.defaultMaxBodyBytes
    @Option(help: "Threads that run inference.") var inferenceThreads = 2
    @Option(help: "OpenBLAS threads per GEMM. 1 keeps one busy core per inference thread; more lowers one large batch's latency on an otherwise idle worker.")
    var blasThreads = 1
    @Option(help: "Refuse inference requests with 503 (Retry-After) while requests wait longer than this for an inference thread, milliseconds; 0 turns it off.")
    var maxQueueDelayMs = 100
    @Option(help: "Seconds between heartbeats.") var heartbeatInterval = 1.0
    @Option(help: "Fault injection: delay this percent of inference requests (0-100) by --fault-delay-ms.") var faultDelayPercent = 0.0
    @Option(help: "Fault injection: how long a delayed request waits before it is queued, milliseconds.") var faultDelayMs = 0
    @Option(help: .hidden) var faultCrashOnBody: String?
    @Option(help: .hidden) var faultCrashOnLoad: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = Logger.Level.info
    @Option(help: .hidden) var exitWithParent: Int32?

    func run() async throws {
        let listen = try HTTPServerConfiguration(listen: normalizeAddress(self.listen), maxBodyBytes: maxBodyBytes)
        guard (0...100).contains(faultDelayPercent), faultDelayMs >= 0 else {
            throw ValidationError("--fault-delay-percent must be 0-100 and --fault-delay-ms ≥ 0")
        }
        var configuration = WorkerConfiguration(
            name: name, listen: listen, advertisedAddress: try advertise.map(normalizeAddress), zone: zone, memoryMB: memoryMB,
            repository: URL(fileURLWithPath: repository).standardizedFileURL.path, synchronizer: try synchronizer.map(normalizeAddress),
            heartbeatIntervalSeconds: heartbeatInterval, adminToken: try readToken(adminTokenFile), inferenceThreads: inferenceThreads
        )
        // The synchronizer refuses heartbeats from names, zones or addresses it cannot route to: say so at start.
        do {
            try WorkerIdentity.validate(WorkerHeartbeat(name: name, address: configuration.advertisedAddress, zone: zone, memoryMB: memoryMB))
        } catch {
            throw ValidationError(error.message.replacingOccurrences(of: "heartbeat: ", with: ""))
        }
        configuration.faultDelayPercent = faultDelayPercent
        configuration.faultDelayMs = faultDelayMs
        configuration.faultCrashOnBody = faultCrashOnBody
        configuration.faultCrashOnLoad = faultCrashOnLoad
        guard maxQueueDelayMs >= 0 && maxQueueDelayMs <= 600_000 else { throw ValidationError("--max-queue-delay-ms must be within 0...600000, got \(maxQueueDelayMs)") }
        configuration.maxQueueDelayMs = maxQueueDelayMs
        guard (1...256).contains(blasThreads) else { throw ValidationError("--blas-threads must be within 1...256, got \(blasThreads)") }
        BLAS.threads = blasThreads
        try await RoleRunner.run(role: "worker.\(name)", logLevel: logLevel, exitWithParent: exitWithParent) { group, logger in
            WorkerService(configuration: configuration, group: group, logger: logger)
        }
    }
}
