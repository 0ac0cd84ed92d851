import Foundation
import HedgerowCore
import NIOCore
import NIOPosix

/// The control plane at fleet size: one real synchronizer (the `hedgerow` binary) driving `workers` simulated
/// workers (`FleetSimulator` processes, as many as open files require) that register by heartbeat, with
/// `modelsPerWorker × workers` models of `replicas` replicas each in its desired state. Measures, in order:
/// - convergence: from the synchronizer's start until every model is routed to all its replicas;
/// - steady state: the synchronizer's CPU (from /proc) and resident memory, and its reconcile rounds (its own
///   `hedgerow_sync_round_duration_seconds` histogram, scraped before and after the window);
/// - an edit: a model added to the YAML until routed (first replica, every replica; includes the simulated load
///   time), then removed until it leaves the routes;
/// - a dead worker: one worker holding replicas goes silent (no heartbeat, no answer; a lost machine, not a
///   refused connection) until its address leaves the routes (noticed) and every model it held is routed to all
///   its replicas again (replaced).
public struct FleetBenchmark {
    public struct Result: Sendable {
        public var workers: Int
        public var models: Int
        public var simulatorProcesses: Int
        public var startSeconds: Double
        public var convergeSeconds: Double?
        /// Rounds from start until routed (a scrape just after), and their mean.
        public var convergeRounds: Int
        public var convergeRoundMeanSeconds: Double?
        /// After the cold start: the most replicas one worker serves, and the workers serving none.
        public var mostReplicasOnAWorker: Int
        public var workersWithoutReplicas: Int
        public var cpuCores: Double
        public var residentMB: Double
        /// Rounds in the steady window, their mean, and the smallest histogram bucket that holds them all.
        public var rounds: Int
        public var roundMeanSeconds: Double?
        public var roundMaxBucketSeconds: Double?
        public var editRoutedSeconds: Double?
        public var editWholeSeconds: Double?
        public var removeSeconds: Double?
        public var deadNoticedSeconds: Double?
        public var deadReplacedSeconds: Double?
        public var heartbeatsOK: Int
        public var heartbeatsFailed: Int
        public var logDirectory: String
    }

    public var executable: String
    public var workers: Int
    public var modelsPerWorker = 1
    public var replicas = 2
    public var loadSeconds = 0.5
    public var adminDelayMs = 2
    public var steadySeconds = 10.0

    public init(executable: String, workers: Int) {
        self.executable = executable
        self.workers = workers
    }

    /// - Parameter progress: told each phase as it starts, with the synchronizer's address and log at first.
    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hedgerow-bench-fleet-\(getpid())-\(workers)")
        try? FileManager.default.removeItem(at: directory)
        let repository = directory.appendingPathComponent("repository")
        let models = (0..<workers * modelsPerWorker).map { String(format: "m%06d", $0) }
        for model in models { try Self.addModelFile(model, in: repository) }
        let configFile = directory.appendingPathComponent("desired-state.yaml").path
        try writeConfig(configFile, repository: repository.path, models: models)
        // The synchronizer holds a connection per worker; the simulators a listening socket and a connection each.
        let files = FleetSimulator.openFileLimit
        guard files >= workers + 1024 else {
            throw BenchError(message: "the synchronizer needs \(workers + 1024) open files for \(workers) workers and the limit is \(files): raise `ulimit -n`")
        }
        let perProcess = max(1, min(workers, (files - 1024) / 3))

        let synchronizer = "127.0.0.1:\(try await Self.freePort())"
        let log = directory.appendingPathComponent("synchronizer.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["synchronizer", "--listen", synchronizer, "--desired", configFile, "--exit-with-parent", String(getpid()), "--log-level", "warning"]
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        var clock = ContinuousClock.now
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        progress("synchronizer at \(synchronizer), log \(log.path); starting \(workers) simulated workers in \((workers + perProcess - 1) / perProcess) process(es)")

        var simulators: [SimulatorProcess] = []
        var addresses: [String: (name: String, simulator: SimulatorProcess)] = [:]
        for first in stride(from: 0, to: workers, by: perProcess) {
            let count = min(perProcess, workers - first)
            let simulator = try SimulatorProcess(
                executable: executable, count: count, first: first, synchronizer: synchronizer, loadSeconds: loadSeconds, adminDelayMs: adminDelayMs,
                log: directory.appendingPathComponent("simulator-\(first).log")
            )
            simulators.append(simulator)
        }
        func stopAll() async { for simulator in simulators { await simulator.stop() } }
        for simulator in simulators {
            guard let lines = await simulator.take(until: "ready", timeout: 120) else {
                await stopAll()
                throw BenchError(message: "a simulator process did not start its workers; see the logs in \(directory.path)")
            }
            for line in lines where line.hasPrefix("worker ") {
                let words = line.split(separator: " ")
                if words.count == 3 { addresses[String(words[2])] = (String(words[1]), simulator) }
            }
        }
        let startSeconds = (ContinuousClock.now - clock).inSeconds
        let watcher = RoutesWatcher(synchronizer: synchronizer)

        let routedEverywhere = { (table: RoutingTable, names: [String]) in
            names.allSatisfy { (table.models[$0]?.versions["1"]?.count ?? 0) >= replicas }
        }
        progress("waiting for every model to be routed")
        let converge = await watcher.wait(from: clock, timeout: 900) { routedEverywhere($0, models) }

        let convergeRounds = Self.rounds(await watcher.fetch("/metrics"))
        // How evenly the cold start spread the replicas: workers that registered late get only what is placed after.
        var perWorker: [String: Int] = [:]
        for routes in watcher.table.models.values { for address in routes.versions["1"] ?? [] { perWorker[address, default: 0] += 1 } }
        let spread = (most: perWorker.values.max() ?? 0, idle: workers - perWorker.count)

        // Steady state.
        progress(converge == nil ? "not every model was routed within 900 s; measuring anyway" : "routed; measuring the steady state")
        try? await Task.sleep(for: .seconds(3))
        let cpuBefore = Self.cpuSeconds(process.processIdentifier)
        let roundsBefore = Self.rounds(await watcher.fetch("/metrics"))
        try? await Task.sleep(for: .seconds(steadySeconds))
        let cpu = (Self.cpuSeconds(process.processIdentifier) - cpuBefore) / steadySeconds
        let roundsAfter = Self.rounds(await watcher.fetch("/metrics"))
        let rounds = roundsAfter.flatMap { after in roundsBefore.map { after.since($0) } }

        // An edit: one model added, then removed.
        progress("timing a YAML edit")
        try Self.addModelFile("added", in: repository)
        clock = ContinuousClock.now
        try writeConfig(configFile, repository: repository.path, models: models + ["added"])
        let editRouted = await watcher.wait(from: clock, timeout: 120) { ($0.models["added"]?.versions["1"]?.count ?? 0) >= 1 }
        let editWhole = await watcher.wait(from: clock, timeout: 120) { routedEverywhere($0, ["added"]) }
        clock = ContinuousClock.now
        try writeConfig(configFile, repository: repository.path, models: models)
        let removed = await watcher.wait(from: clock, timeout: 120) { $0.models["added"] == nil }

        // A dead worker: the first one routed to.
        progress("timing a worker that goes silent")
        var held: [String: [String]] = [:]
        for (name, routes) in watcher.table.models { for address in routes.versions["1"] ?? [] { held[address, default: []].append(name) } }
        var noticed: Double?, replaced: Double?
        if let (address, lost) = held.min(by: { $0.key < $1.key }), let victim = addresses[address] {
            clock = ContinuousClock.now
            victim.simulator.send("silence \(victim.name)")
            noticed = await watcher.wait(from: clock, timeout: 120) { table in lost.allSatisfy { table.models[$0]?.versions["1"]?.contains(address) != true } }
            replaced = await watcher.wait(from: clock, timeout: 180) { routedEverywhere($0, lost) }
        }
        let resident = Self.residentMB(process.processIdentifier)
        var beats = (ok: 0, failed: 0)
        for simulator in simulators {
            simulator.send("stats")
            let words = await simulator.take(until: "heartbeats", timeout: 10)?.last?.split(separator: " ") ?? []
            if words.count == 3 { beats = (beats.ok + (Int(words[1]) ?? 0), beats.failed + (Int(words[2]) ?? 0)) }
        }

        process.terminate()
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        await watcher.stop()
        await stopAll()
        try? FileManager.default.removeItem(at: repository)
        return Result(
            workers: workers, models: models.count, simulatorProcesses: simulators.count, startSeconds: startSeconds, convergeSeconds: converge,
            convergeRounds: convergeRounds?.count ?? 0, convergeRoundMeanSeconds: convergeRounds?.mean,
            mostReplicasOnAWorker: spread.most, workersWithoutReplicas: spread.idle,
            cpuCores: cpu, residentMB: resident, rounds: rounds?.count ?? 0, roundMeanSeconds: rounds?.mean, roundMaxBucketSeconds: rounds?.maxBucket,
            editRoutedSeconds: editRouted, editWholeSeconds: editWhole, removeSeconds: removed, deadNoticedSeconds: noticed, deadReplacedSeconds: replaced,
            heartbeatsOK: beats.ok, heartbeatsFailed: beats.failed, logDirectory: directory.path
        )
    }

    /// The synchronizer's round histogram (`hedgerow_sync_round_duration_seconds`) at one scrape.
    struct Rounds {
        var count = 0
        var sum = 0.0
        /// Upper bound of each bucket → rounds at most that long.
        var buckets: [(Double, Int)] = []

        /// The rounds between `earlier` and this scrape.
        func since(_ earlier: Rounds) -> Rounds {
            let before = Dictionary(earlier.buckets, uniquingKeysWith: { a, _ in a })
            return Rounds(count: count - earlier.count, sum: sum - earlier.sum, buckets: buckets.map { ($0.0, $0.1 - (before[$0.0] ?? 0)) })
        }

        var mean: Double? { count > 0 ? sum / Double(count) : nil }
        /// The smallest bucket bound that holds every round.
        var maxBucket: Double? { count > 0 ? buckets.sorted { $0.0 < $1.0 }.first { $0.1 >= count }?.0 : nil }
    }

    static func rounds(_ metrics: String?) -> Rounds? {
        guard let metrics else { return nil }
        let name = "hedgerow_sync_round_duration_seconds"
        var rounds = Rounds()
        for line in metrics.split(separator: "\n") where line.hasPrefix(name) {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let value = Double(parts[parts.count - 1]) else { continue }
            if parts[0] == "\(name)_count" { rounds.count = Int(value) }
            else if parts[0] == "\(name)_sum" { rounds.sum = value }
            else if parts[0].hasPrefix("\(name)_bucket{le=\""), let bound = Double(parts[0].dropFirst(name.count + 12).dropLast(2)) {
                rounds.buckets.append((bound, Int(value)))
            }
        }
        return rounds
    }

    private func writeConfig(_ path: String, repository: String, models: [String]) throws {
        var text = "repository: \(repository)\ndefaults: { replicas: \(replicas) }\nmodels:\n"
        for model in models { text += "  - name: \(model)\n" }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// An empty model file: the synchronizer only lists and measures files; simulated workers never read them.
    private static func addModelFile(_ model: String, in repository: URL) throws {
        let version = repository.appendingPathComponent(model).appendingPathComponent("1")
        try FileManager.default.createDirectory(at: version, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: version.appendingPathComponent("model.onnx").path, contents: Data())
    }

    private static func freePort() async throws -> Int {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try? await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = channel?.localAddress?.port ?? 0
        try? await channel?.close()
        try? await group.shutdownGracefully()
        guard port > 0 else { throw BenchError(message: "no free loopback port") }
        return port
    }

    /// User + system CPU seconds of a process, from /proc.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func residentMB(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
        return kb / 1024
    }
}
