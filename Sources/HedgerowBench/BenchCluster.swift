import Foundation
import HedgerowHTTP
import NIOCore
import NIOPosix

/// A synchronizer, two workers and two routers on loopback (one balancing by peak-EWMA, the default, one by
/// requests in flight only, for comparison), started from the `hedgerow` binary for one benchmark scenario. Worker w2 may carry fault-injection flags; `pause(every:for:)` freezes it with SIGSTOP/SIGCONT.
final class BenchCluster: @unchecked Sendable {
    let routerAddress: String
    /// The router started with `--balancer least-requests`.
    let leastRequestsRouterAddress: String
    let workerAddresses: [String]
    let configFile: String
    private let repository: String
    private var processes: [Process] = []
    private let directory: URL
    private let client: HTTP2ClientPool
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    init(executable: String, repository: String, basePort: Int, w2Flags: [String]) throws {
        self.repository = repository
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("hedgerow-bench-\(getpid())-\(basePort)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        configFile = directory.appendingPathComponent("desired-state.yaml").path
        let token = directory.appendingPathComponent("token").path
        try UUID().uuidString.write(toFile: token, atomically: true, encoding: .utf8)
        let sync = "127.0.0.1:\(basePort)"
        routerAddress = "127.0.0.1:\(basePort + 1)"
        workerAddresses = ["127.0.0.1:\(basePort + 2)", "127.0.0.1:\(basePort + 3)"]
        leastRequestsRouterAddress = "127.0.0.1:\(basePort + 4)"
        client = HTTP2ClientPool(group: group)
        try writeConfig(budgetPercent: 0)
        let me = String(getpid())
        func start(_ name: String, _ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments + ["--exit-with-parent", me, "--log-level", "warning"]
            let log = directory.appendingPathComponent("\(name).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)  // FileHandle below says if it failed
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            processes.append(process)
        }
        try start("synchronizer", ["synchronizer", "--listen", sync, "--desired", configFile, "--admin-token-file", token])
        try start("w1", ["worker", "--listen", workerAddresses[0], "--name", "w1", "--zone", "a", "--admin-token-file", token, "--repository", repository])
        try start("w2", ["worker", "--listen", workerAddresses[1], "--name", "w2", "--zone", "b", "--admin-token-file", token, "--repository", repository] + w2Flags)
        try start("router", ["router", "--listen", routerAddress, "--synchronizer", sync])
        try start("router-least-requests", ["router", "--listen", leastRequestsRouterAddress, "--synchronizer", sync, "--balancer", "least-requests"])
    }

    var w2PID: Int32 { processes[2].processIdentifier }

    /// Desired state with both workers and the digits model on both; `budgetPercent: 0` turns hedging off.
    func writeConfig(budgetPercent: Double) throws {
        try """
            repository: \(repository)
            workers:
              - { name: w1, address: \(workerAddresses[0]), zone: a }
              - { name: w2, address: \(workerAddresses[1]), zone: b }
            models:
              - name: digits
                replicas: 2
                hedging: { percentile: 95, budgetPercent: \(budgetPercent), minDelayMs: 1, maxDelayMs: 1000 }
            """.write(toFile: configFile, atomically: true, encoding: .utf8)
    }

    /// Waits until both routers route digits to both workers with the given budget.
    func waitUntilRouted(budgetPercent: Double, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        var pending = [routerAddress, leastRequestsRouterAddress]
        while let router = pending.first, ContinuousClock.now < deadline {
            if let response = try? await client.execute(HTTPRequest(method: .GET, target: "/v1/routes"), to: router, timeout: .seconds(2)).response.get(),
               let table = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any],
               let digits = (table["models"] as? [String: Any])?["digits"] as? [String: Any],
               (digits["versions"] as? [String: [String]])?["1"]?.count == 2,
               (digits["hedging"] as? [String: Any])?["budgetPercent"] as? Double == budgetPercent {
                pending.removeFirst()
                continue
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        if pending.isEmpty { return }
        throw BenchError(message: "the cluster did not route digits to both workers within \(timeout); logs in \(directory.path)")
    }

    /// Reads one counter from a router's /metrics (0 when absent).
    func routerCounter(_ series: String, router: String) async -> Double {
        guard let response = try? await client.execute(HTTPRequest(method: .GET, target: "/metrics"), to: router, timeout: .seconds(2)).response.get() else { return 0 }
        for line in String(buffer: response.body).split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1)) ?? 0
        }
        return 0
    }

    /// Freezes w2 for `pause` every `period` until the task is cancelled (a GC pause, a noisy neighbour).
    func pauseWorker2(every period: Duration, for pause: Duration) -> Task<Void, Never> {
        let pid = w2PID
        return Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(for: period - pause)
                if Task.isCancelled { break }
                kill(pid, SIGSTOP)
                try? await Task.sleep(for: pause)
                kill(pid, SIGCONT)
            }
            kill(pid, SIGCONT)
        }
    }

    func stop(keepLogs: Bool = false) async {
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGCONT)
            process.terminate()
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while processes.contains(where: \.isRunning) && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        client.shutdown()
        try? await group.shutdownGracefully()
        if !keepLogs { try? FileManager.default.removeItem(at: directory) }
    }
}

public struct BenchError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
