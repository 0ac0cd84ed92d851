import Foundation
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// A synchronizer, a router and three workers on loopback, over a scratch copy of the model repository (so a
/// test can add versions): w1 (zone a) and w2 (zone b) listed statically, w3 (zone c) registered by heartbeat.
/// Heartbeats every 0.5 s, so a silent worker is dead after 1.5 s.
final class ScenarioCluster: @unchecked Sendable {
    let setup: RoleTestSetup
    let repository: URL
    let configFile: String
    private(set) var synchronizer: HedgerowProcess
    private var workers: [HedgerowProcess]
    private let router: HedgerowProcess
    private let ports: [Int]
    private let control: H2Client

    init(_ setup: RoleTestSetup) throws {
        self.setup = setup
        repository = setup.directory.appendingPathComponent("Models")
        let digits = repository.appendingPathComponent("digits")
        try FileManager.default.createDirectory(at: digits, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: HedgerowProcess.repositoryRoot.appendingPathComponent("Models/digits/1"), to: digits.appendingPathComponent("1"))
        configFile = setup.directory.appendingPathComponent("desired.yaml").path
        let third = FreePorts.consecutive(1, avoiding: [setup.routerPort, setup.syncPort, setup.workerPort, setup.workerPort + 1])
        ports = [setup.workerPort, setup.workerPort + 1, third]
        control = H2Client(address: setup.synchronizer)
        try Self.config(repository: repository, ports: ports, placement: "{ workers: [w1, w2] }").write(toFile: configFile, atomically: true, encoding: .utf8)
        synchronizer = try Self.startSynchronizer(setup, config: configFile)
        router = try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", setup.synchronizer,
                                      "--routes-cache", setup.directory.appendingPathComponent("routes.json").path])
        workers = []
        for (i, port) in ports.enumerated() {
            var arguments = ["worker", "--listen", "127.0.0.1:\(port)", "--name", "w\(i + 1)", "--admin-token-file", setup.tokenFile,
                             "--repository", repository.path]
            if i == 2 { arguments += ["--zone", "c", "--synchronizer", setup.synchronizer, "--heartbeat-interval", "0.5"] }
            workers.append(try HedgerowProcess(arguments))
        }
    }

    private static func startSynchronizer(_ setup: RoleTestSetup, config: String) throws -> HedgerowProcess {
        try HedgerowProcess(["synchronizer", "--listen", setup.synchronizer, "--desired", config, "--admin-token-file", setup.tokenFile,
                             "--heartbeat-interval", "0.5"])
    }

    func address(_ index: Int) -> String { "127.0.0.1:\(ports[index])" }
    func index(of address: String) -> Int? { ports.firstIndex { "127.0.0.1:\($0)" == address } }

    /// The desired state: digits, `latest: 1`, with the given placement (a YAML flow mapping) and replica count.
    /// `replicas` sits on line 8, column 15.
    func writeConfig(placement: String, replicas: String = "2", extra: String = "") throws {
        try Self.config(repository: repository, ports: ports, placement: placement, replicas: replicas, extra: extra)
            .write(toFile: configFile, atomically: true, encoding: .utf8)
    }

    private static func config(repository: URL, ports: [Int], placement: String, replicas: String = "2", extra: String = "") -> String {
        """
            repository: \(repository.path)
            workers:
              - { name: w1, address: 127.0.0.1:\(ports[0]), zone: a }
              - { name: w2, address: 127.0.0.1:\(ports[1]), zone: b }
            models:
              - name: digits
                versions: { latest: 1 }
                replicas: \(replicas)
                placement: \(placement)

            """.appending(extra)
    }

    /// Adds version 2 the way an operator should: copied under a name the synchronizer ignores, then renamed, so
    /// no half-written model is ever seen.
    func addVersion2() throws {
        let digits = repository.appendingPathComponent("digits")
        let incoming = digits.appendingPathComponent(".incoming-2")
        try FileManager.default.copyItem(at: digits.appendingPathComponent("1"), to: incoming)
        try FileManager.default.moveItem(at: incoming, to: digits.appendingPathComponent("2"))
    }

    /// digits' versions → replica addresses, as the router routes them now.
    func routes(via client: H2Client) async -> [String: [String]] {
        let table = try? await client.send(.GET, "/v1/routes").json
        let digits = (table?["models"] as? [String: Any])?["digits"] as? [String: Any]
        return (digits?["versions"] as? [String: [String]])?.mapValues { $0.sorted() } ?? [:]
    }

    func routerGeneration(via client: H2Client) async -> Int? {
        (try? await client.send(.GET, "/v1/routes").json)?["generation"] as? Int
    }

    /// The synchronizer's `GET /v1/state`, or nil while it does not answer.
    func state() async -> [String: Any]? {
        try? await control.send(.GET, "/v1/state").json
    }

    /// The synchronizer's Prometheus text.
    func synchronizerMetrics() async -> String {
        (try? await control.send(.GET, "/metrics").text) ?? ""
    }

    /// `model/version` of every version worker `index` holds in any state (none when it does not answer).
    func loaded(on index: Int) async -> [String] {
        let client = H2Client(address: address(index))
        defer { Task { await client.close() } }
        guard let state = try? await client.send(.GET, "/admin/state", headers: ["authorization": "Bearer \(setup.token)"]).json,
              let models = state["models"] as? [[String: Any]] else { return [] }
        return models.map { "\($0["model"] ?? "?")/\($0["version"] ?? "?")" }
    }

    func kill(_ index: Int) {
        Glibc.kill(workers[index].process.processIdentifier, SIGKILL)
        workers[index].process.waitUntilExit()
    }

    /// SIGSTOP: the process hangs with its connections open, as a wedged machine does (`resume` undoes it).
    func pause(_ index: Int) { Glibc.kill(workers[index].process.processIdentifier, SIGSTOP) }
    func resume(_ index: Int) { Glibc.kill(workers[index].process.processIdentifier, SIGCONT) }

    func restartSynchronizer() async throws {
        await synchronizer.stop()
        try await Task.sleep(for: .seconds(1))
        synchronizer = try Self.startSynchronizer(setup, config: configFile)
    }

    func stopAll() async {
        await control.close()
        for process in [router, synchronizer] + workers { await process.stop() }
    }

    /// Last resort when a test fails early: nothing it started may outlive it.
    func killAll() {
        for process in [router, synchronizer] + workers where process.process.isRunning { Glibc.kill(process.process.processIdentifier, SIGKILL) }
    }
}

/// Two clients sending KServe v2 inference requests to the router back to back (5 ms apart), recording every
/// answer with the phase of the test it was sent in and the model version that answered.
final class SteadyLoad: @unchecked Sendable {
    struct Record {
        var phase: String
        var at: ContinuousClock.Instant
        var status: Int
        var version: String?
        var error: String?
    }

    struct Result {
        var total: Int
        var failures: [String]
        var perPhase: [String: Int]
    }

    private let client: H2Client
    private let records = NIOLockedValueBox<[Record]>([])
    private let currentPhase = NIOLockedValueBox("start")
    private let stopped = NIOLockedValueBox(false)
    private var tasks: [Task<Void, Never>] = []
    private let body: Data

    init(client: H2Client) {
        self.client = client
        body = try! JSONSerialization.data(withJSONObject: ["inputs": [["name": "input", "shape": [1, 64], "datatype": "FP32", "data": [Double](repeating: 0.5, count: 64)]]])
    }

    func start(clients: Int = 2) {
        for _ in 0..<clients { tasks.append(Task { await self.run() }) }
    }

    private func run() async {
        let deadline = ContinuousClock.now + .seconds(300)
        var sent = 0
        while !stopped.withLockedValue({ $0 }) && ContinuousClock.now < deadline && sent < 100_000 {
            let phase = currentPhase.withLockedValue { $0 }
            let record: Record
            do {
                let answer = try await client.send(.POST, "/v2/models/digits/infer", body: body)
                record = Record(phase: phase, at: .now, status: answer.status, version: answer.json?["model_version"] as? String,
                                error: answer.status == 200 ? nil : answer.text)
            } catch {
                record = Record(phase: phase, at: .now, status: 0, version: nil, error: "\(error)")
            }
            records.withLockedValue { $0.append(record) }
            sent += 1
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    func phase(_ name: String) { currentPhase.withLockedValue { $0 = name } }

    /// The model versions that answered since `instant`.
    func versionsSince(_ instant: ContinuousClock.Instant) -> Set<String> {
        Set(records.withLockedValue { $0.filter { $0.at >= instant }.compactMap(\.version) })
    }

    func stop() async -> Result {
        stopped.withLockedValue { $0 = true }
        for task in tasks { await task.value }
        let all = records.withLockedValue { $0 }
        return Result(
            total: all.count,
            failures: all.filter { $0.status != 200 }.map { "[\($0.phase)] \($0.status) \($0.error ?? "")" },
            perPhase: Dictionary(grouping: all, by: \.phase).mapValues(\.count)
        )
    }
}
