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
    @Option(help: "Synchronizer to long-poll routes from, HOST:PORT.") var synchronizer = "127.0.0.1:8600"
    @Option(help: "File to keep the last routing table in, so a restart serves before the synchronizer answers.") var routesCache: String?
    @Option(help: "Largest request body accepted, bytes (413 above).") var maxBodyBytes = HTTPServerConfiguration.defaultMaxBodyBytes
    @Option(help: "Deadline of requests without Hedgerow-Timeout-Ms, milliseconds.") var defaultTimeoutMs = 30_000
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = Logger.Level.info
    @Option(help: .hidden) var exitWithParent: Int32?

    func run() async throws {
        let configuration = RouterConfiguration(
            listen: try HTTPServerConfiguration(listen: normalizeAddress(listen), maxBodyBytes: maxBodyBytes),
            synchronizer: try normalizeAddress(synchronizer), routesCacheFile: routesCache, defaultTimeoutMs: defaultTimeoutMs
        )
        try await RoleRunner.run(role: "router", logLevel: logLevel, exitWithParent: exitWithParent) { group, logger in
            RouterService(configuration: configuration, group: group, logger: logger)
        }
    }
}
