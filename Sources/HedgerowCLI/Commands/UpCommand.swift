import ArgumentParser
@preconcurrency import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowSynchronizer
import NIOConcurrencyHelpers

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run a whole Hedgerow on this machine: a synchronizer, N workers and a router on 127.0.0.1.",
        discussion: """
            Prints one summary when every model is AVAILABLE and routable. Ctrl-C (or SIGTERM) stops every \
            process. If any role dies, `up` says which one and why (its last log lines) and restarts it, after \
            0.5 s doubling up to 30 s while it keeps dying; the others keep serving meanwhile (routers keep their \
            last routing table, a restarted worker is given its models again). A model that cannot be served \
            (its file is broken, it does not fit) is named with the reason; everything else keeps serving.
            """
    )

    @Option(help: "Desired-state YAML file.") var config = "Configs/desired-state.yaml"
    @Option(help: "Number of workers to start (named w1..wN, zones alternating a and b).") var workers = 2
    @Option(help: "Router port.") var routerPort = 8500
    @Option(help: "Synchronizer port.") var syncPort = 8600
    @Option(help: "PEM certificate chain for the router: its port then also accepts TLS (h2 and HTTP/1.1 by ALPN).") var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.") var tlsKey: String?
    @Option(help: "Port of the first worker; the others take the next ports.") var workerBasePort = 8701
    @Option(help: "Seconds to wait for every model to become routable before reporting which are not (up keeps running).") var readyTimeout = 120.0
    /// Extra arguments for every worker (fault injection in tests: `--worker-argument=--fault-crash-on-body …`).
    @Option(help: .hidden) var workerArgument: [String] = []
    /// Extra arguments for the router (benchmarks compare balancers: `--router-argument=--balancer=least-requests`).
    @Option(help: .hidden) var routerArgument: [String] = []

    func validate() throws {
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("give --tls-cert and --tls-key together") }
        if let tlsCert, let tlsKey {
            do { _ = try TLSFiles.serverContext(certificateChain: tlsCert, privateKey: tlsKey) } catch { throw ValidationError("\(error)") }
        }
        for port in [routerPort, syncPort, workerBasePort, workerBasePort + workers - 1] where !(1...65535).contains(port) {
            throw ValidationError("port \(port) is outside 1-65535")
        }
    }

    /// The router's TLS flags, with absolute paths so that the child does not depend on the working directory.
    private var tlsArguments: [String] {
        guard let tlsCert, let tlsKey else { return [] }
        return ["--tls-cert", URL(fileURLWithPath: tlsCert).standardizedFileURL.path, "--tls-key", URL(fileURLWithPath: tlsKey).standardizedFileURL.path]
    }

    func run() async throws {
        setvbuf(stdout, nil, _IOLBF, 0)  // line by line, also when piped to a file or a test
        let configPath = URL(fileURLWithPath: config).standardizedFileURL.path
        guard let text = try? String(contentsOfFile: configPath, encoding: .utf8) else {
            throw ValidationError("cannot read \(config)")
        }
        let desired: DesiredState
        do { desired = try DesiredStateParser.parse(text, file: config) } catch {
            throw ValidationError("\(config) is not a valid desired state:\n\(error)")
        }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let runDir = FileManager.default.temporaryDirectory.appendingPathComponent("hedgerow-up-\(getpid())").path
        try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        let tokenFile = "\(runDir)/admin-token"
        let token = UUID().uuidString
        guard FileManager.default.createFile(atPath: tokenFile, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write the admin token file in \(runDir)")
        }

        let events = AsyncStream<ClusterEvent>.makeStream()
        let cluster = Cluster(executable: executable) { child, how in
            events.continuation.yield(.childExited(child, how))
        }
        let me = String(getpid())
        let sync = "127.0.0.1:\(syncPort)"
        var roles = [RoleSpec(
            name: "synchronizer",
            arguments: ["synchronizer", "--listen", sync, "--desired", configPath, "--admin-token-file", tokenFile, "--exit-with-parent", me],
            logPath: "\(runDir)/synchronizer.log"
        )]
        for i in 1...workers {
            roles.append(RoleSpec(
                name: "worker w\(i)",
                arguments: ["worker", "--listen", "127.0.0.1:\(workerBasePort + i - 1)", "--name", "w\(i)", "--zone", i % 2 == 1 ? "a" : "b",
                            "--repository", desired.repository, "--synchronizer", sync, "--admin-token-file", tokenFile, "--exit-with-parent", me]
                    + workerArgument,
                logPath: "\(runDir)/worker-w\(i).log"
            ))
        }
        roles.append(RoleSpec(
            name: "router",
            arguments: ["router", "--listen", "127.0.0.1:\(routerPort)", "--synchronizer", sync, "--routes-cache", "\(runDir)/routes.json",
                        "--inference-log-dir", "\(runDir)/inference-logs", "--admin-token-file", tokenFile, "--exit-with-parent", me]
                + tlsArguments + routerArgument,
            logPath: "\(runDir)/router.log"
        ))
        do {
            for role in roles { try cluster.start(role) }
        } catch {
            await cluster.stop()
            throw ValidationError("cannot start a child process: \(error)")
        }

        var signalSources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { events.continuation.yield(.signal(signalNumber)) }
            source.resume()
            signalSources.append(source)
        }
        let readiness = Task {
            let result = await Readiness.wait(for: desired, workers: workers, router: "127.0.0.1:\(routerPort)", synchronizer: sync, timeout: readyTimeout)
            events.continuation.yield(.ready(result))
        }

        var backoffs: [String: RestartBackoff] = [:]
        loop: for await event in events.stream {
            switch event {
            case .ready(.success(let summary)):
                print(summary.render(routerURL: "http://127.0.0.1:\(routerPort)", synchronizer: sync, logs: runDir, tls: tlsCert != nil))
            case .ready(.failure(let notReady)):
                print("hedgerow up: not every model is served after \(Int(readyTimeout)) s; still running and serving the rest.\n"
                      + notReady.render() + "\n  status        .build/release/hedgerow status --synchronizer \(sync)\n  logs          \(runDir)")
            case .childExited(let child, let how):
                let delay = backoffs[child.role.name, default: RestartBackoff()].delay(afterRunning: child.uptime)
                let restarts = backoffs[child.role.name]?.restarts ?? 1
                let lastLines = child.lastLogLines()
                print("hedgerow up: \(child.name) (pid \(child.pid)) \(how). Its last log lines (\(child.logPath)):\n\(lastLines)")
                if let worker = child.role.workerName {
                    // Tell the synchronizer how it died, so a version whose load killed it is shown with the reason.
                    let report = "\(child.name) \(how); last log lines:\n\(lastLines)"
                    Task {
                        let client = ControlClient()
                        _ = try? await client.post(sync, "/v1/workers/\(worker)/crashed", body: report, token: token)
                        await client.shutdown()
                    }
                }
                print("hedgerow up: restarting \(child.name) in \(delay) s (restart \(restarts)); \(Self.meanwhile(child.role.name))")
                Task {
                    try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                    events.continuation.yield(.restart(child.role))
                }
            case .restart(let role):
                guard !cluster.isStopping else { continue }
                do {
                    let child = try cluster.start(role)
                    print("hedgerow up: restarted \(role.name) (pid \(child.pid))")
                } catch {
                    print("hedgerow up: cannot restart \(role.name): \(error); trying again in 5 s")
                    Task {
                        try? await Task.sleep(for: .seconds(5))
                        events.continuation.yield(.restart(role))
                    }
                }
            case .signal(let number):
                print("\nhedgerow up: received \(number == SIGINT ? "SIGINT" : "SIGTERM"), stopping…")
                break loop
            }
        }
        readiness.cancel()
        await cluster.stop()
        signalSources.forEach { $0.cancel() }
        try? FileManager.default.removeItem(atPath: tokenFile)
        print("hedgerow up: stopped (logs kept in \(runDir))")
    }

    /// What still works while a role is down.
    static func meanwhile(_ role: String) -> String {
        switch role {
        case "router": "clients cannot connect until it is back (it serves its cached routing table at once)"
        case "synchronizer": "still serving on the last routing table; model moves wait for it"
        default: "still serving from the other workers; the synchronizer gives it its models again when it is back"
        }
    }
}

enum ClusterEvent: Sendable {
    case ready(Result<Readiness.Summary, Readiness.NotReady>)
    case childExited(ChildProcess, String)
    case restart(RoleSpec)
    case signal(Int32)
}

/// One role `up` runs and restarts: the same arguments and log file each time.
struct RoleSpec: Sendable {
    var name: String
    var arguments: [String]
    var logPath: String

    /// `w1` for the role "worker w1".
    var workerName: String? { name.hasPrefix("worker ") ? String(name.dropFirst("worker ".count)) : nil }
}

/// The children of `up`, supervised together: started (and restarted) by role, stopped with SIGTERM, up to
/// 10 s to finish in-flight work, then SIGKILL.
final class Cluster: Sendable {
    private let executable: String
    private let onExit: @Sendable (ChildProcess, String) -> Void
    /// The current process of each role, in start order, and whether `stop()` began (no restart after that).
    private let state = NIOLockedValueBox<(children: [ChildProcess], stopping: Bool)>(([], false))

    init(executable: String, onExit: @escaping @Sendable (ChildProcess, String) -> Void) {
        self.executable = executable
        self.onExit = onExit
    }

    var isStopping: Bool { state.withLockedValue { $0.stopping } }

    /// Starts (or restarts) a role; its previous process, if any, is replaced.
    @discardableResult
    func start(_ role: RoleSpec) throws -> ChildProcess {
        let child = try ChildProcess(role: role, executable: executable, onExit: onExit)
        state.withLockedValue { state in
            if let i = state.children.firstIndex(where: { $0.role.name == role.name }) {
                state.children[i] = child
            } else {
                state.children.append(child)
            }
        }
        return child
    }

    func stop() async {
        let all = state.withLockedValue { state in
            state.stopping = true
            return state.children
        }
        // Router first so clients stop arriving, then workers, then the synchronizer.
        for child in all.reversed() { child.terminate() }
        let deadline = ContinuousClock.now + .seconds(10)
        while all.contains(where: \.isRunning) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for child in all where child.isRunning {
            print("hedgerow up: \(child.name) did not stop within 10 s; killing it")
            child.kill()
        }
    }
}
