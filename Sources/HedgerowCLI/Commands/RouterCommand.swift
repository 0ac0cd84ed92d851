import ArgumentParser
import HedgerowHTTP
import HedgerowRouter
import Logging

struct RouterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "router",
        abstract: "Run a router: the client-facing endpoint that forwards (and hedges) requests to worker replicas."
    )

    @Option(help: "Address to listen on, HOST:PORT.") var listen = "127.0.0.1:8500"
    @Option(help: "PEM certificate chain: the listen port then also accepts TLS (h2 and HTTP/1.1 by ALPN).") var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.") var tlsKey: String?
    @Option(help: "Synchronizer to long-poll routes from, HOST:PORT.") var synchronizer = "127.0.0.1:8600"
    @Option(help: "File to keep the last routing table in, so a restart serves before the synchronizer answers.") var routesCache: String?
    @Option(help: "Largest request body accepted, bytes (413 above).") var maxBodyBytes = HTTPServerConfiguration.defaultMaxBodyBytes
    @Option(help: "Deadline of requests without Hedgerow-Timeout-Ms, milliseconds.") var defaultTimeoutMs = 30_000
    @Option(help: "Inference requests in flight per model before new ones get 503 with Retry-After.") var maxInFlightPerModel = 1024
    @Option(help: "Failures in a row (5xx, resets) that eject a replica; a refused connection ejects at once.") var ejectAfterFailures = 5
    @Option(help: "First ejection period, milliseconds; it doubles on each repeat.") var ejectionMs = 2_000
    @Option(help: "Longest ejection period, milliseconds.") var maxEjectionMs = 60_000
    @Option(help: "What power of two choices compares: peak-ewma (latency × in flight) or least-requests (in flight only).")
    var balancer = UpstreamPool.Balancing.peakEWMA
    @Option(help: "Seconds a request stays refused after two replicas lost their connection while holding it (a suspected query of death); 0 turns the quarantine off.")
    var quarantineSeconds = 60
    @Option(help: "Directory of sampled inference logs: a model's `logging.path` in the desired state is relative to it.") var inferenceLogDir = "inference-logs"
    @Option(help: "Size at which an inference log file is rotated, MiB.") var inferenceLogFileMb = 64
    @Option(help: "Rotated inference log files kept per model (the oldest is deleted).") var inferenceLogFiles = 5
    @Option(help: "File holding the synchronizer's admin token (its --admin-token-file): canary reports carry it.") var adminTokenFile: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = Logger.Level.info
    @Option(help: .hidden) var exitWithParent: Int32?

    func run() async throws {
        guard defaultTimeoutMs >= 1 else { throw ValidationError("--default-timeout-ms must be ≥ 1, got \(defaultTimeoutMs)") }
        guard maxInFlightPerModel >= 1 else { throw ValidationError("--max-in-flight-per-model must be ≥ 1, got \(maxInFlightPerModel)") }
        guard ejectAfterFailures >= 1 else { throw ValidationError("--eject-after-failures must be ≥ 1, got \(ejectAfterFailures)") }
        guard ejectionMs >= 1, maxEjectionMs >= ejectionMs else {
            throw ValidationError("--ejection-ms must be ≥ 1 and ≤ --max-ejection-ms, got \(ejectionMs) and \(maxEjectionMs)")
        }
        var outliers = OutlierDetector.Settings()
        outliers.consecutiveFailures = ejectAfterFailures
        outliers.baseEjection = UInt64(ejectionMs) * 1_000_000
        outliers.maxEjection = UInt64(maxEjectionMs) * 1_000_000
        guard (0...86_400).contains(quarantineSeconds) else { throw ValidationError("--quarantine-seconds must be within 0...86400, got \(quarantineSeconds)") }
        var quarantine = PoisonQuarantine.Settings()
        quarantine.duration = UInt64(quarantineSeconds) * 1_000_000_000
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("give --tls-cert and --tls-key together") }
        guard (1...4096).contains(inferenceLogFileMb) else { throw ValidationError("--inference-log-file-mb must be within 1...4096, got \(inferenceLogFileMb)") }
        guard (1...1000).contains(inferenceLogFiles) else { throw ValidationError("--inference-log-files must be within 1...1000, got \(inferenceLogFiles)") }
        let inferenceLog = InferenceLogWriter.Settings(directory: inferenceLogDir, maxFileBytes: inferenceLogFileMb << 20, keptFiles: inferenceLogFiles)
        var listenConfiguration = try HTTPServerConfiguration(listen: normalizeAddress(listen), maxBodyBytes: maxBodyBytes)
        if let tlsCert, let tlsKey {
            do {
                listenConfiguration.tls = try TLSFiles.serverContext(certificateChain: tlsCert, privateKey: tlsKey)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        let configuration = RouterConfiguration(
            listen: listenConfiguration,
            synchronizer: try normalizeAddress(synchronizer), routesCacheFile: routesCache, defaultTimeoutMs: defaultTimeoutMs,
            maxInFlightPerModel: maxInFlightPerModel, outliers: outliers, balancing: balancer, quarantine: quarantine,
            inferenceLog: inferenceLog, adminToken: try readToken(adminTokenFile)
        )
        try await RoleRunner.run(role: "router", logLevel: logLevel, exitWithParent: exitWithParent) { group, logger in
            RouterService(configuration: configuration, group: group, logger: logger)
        }
    }
}

extension UpstreamPool.Balancing: ExpressibleByArgument {}
