import Foundation

/// `hedgerow up` (the real binary) on free loopback ports, over a desired state the test wrote.
struct UpCluster {
    let up: HedgerowProcess
    let routerPort: Int
    let syncPort: Int
    /// Port of worker w1; wN listens on `workerBase + N - 1`.
    let workerBase: Int

    init(config: URL, workers: Int, arguments: [String] = []) throws {
        routerPort = FreePorts.consecutive(1)
        syncPort = FreePorts.consecutive(1, avoiding: [routerPort])
        workerBase = FreePorts.consecutive(workers, avoiding: [routerPort, syncPort])
        up = try HedgerowProcess([
            "up", "--config", config.path, "--workers", "\(workers)", "--router-port", "\(routerPort)", "--sync-port", "\(syncPort)",
            "--worker-base-port", "\(workerBase)",
        ] + arguments)
    }

    var router: String { "127.0.0.1:\(routerPort)" }
    var synchronizer: String { "127.0.0.1:\(syncPort)" }
    func workerAddress(_ n: Int) -> String { "127.0.0.1:\(workerBase + n - 1)" }

    /// The lines `up` printed about workers that died (killed by a signal or exited).
    var workerDeaths: [Substring] {
        up.text.split(separator: "\n").filter { $0.hasPrefix("hedgerow up: worker w") && ($0.contains("killed by signal") || $0.contains("exited with status")) }
    }
}
