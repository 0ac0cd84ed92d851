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
            process. If a worker or the synchronizer dies, `up` says which one and why and keeps serving (routers \
            keep their last routing table); if the router dies, it stops everything and exits with an error.
            """
    )

    @Option(help: "Desired-state YAML file.") var config = "Configs/desired-state.yaml"
    @Option(help: "Number of workers to start (named w1..wN, zones alternating a and b).") var workers = 2
    @Option(help: "Router port.") var routerPort = 8500
    @Option(help: "Synchronizer port.") var syncPort = 8600
    @Option(help: "PEM certificate chain for the router: its port then also accepts TLS (h2 and HTTP/1.1 by ALPN).") var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.") var tlsKey: String?
    @Option(help: "Port of the first worker; the others take the next ports.") var workerBasePort = 8701
    @Option(help: "Seconds to wait for every model to become routable.") var readyTimeout = 120.0

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
        FileManager.default.createFile(atPath: tokenFile, contents: Data(UUID().uuidString.utf8), attributes: [.posixPermissions: 0o600])

        let cluster = Cluster()
        let events = AsyncStream<ClusterEvent>.makeStream()
        let onExit: @Sendable (ChildProcess, String) -> Void = { child, how in
            events.continuation.yield(.childExited(child, how))
        }
        let me = String(getpid())
        let sync = "127.0.0.1:\(syncPort)"
        do {
            cluster.add(try ChildProcess(
                name: "synchronizer", executable: executable,
                arguments: ["synchronizer", "--listen", sync, "--desired", configPath, "--admin-token-file", tokenFile, "--exit-with-parent", me],
                logPath: "\(runDir)/synchronizer.log", onExit: onExit
            ))
            for i in 1...workers {
                cluster.add(try ChildProcess(
                    name: "worker w\(i)", executable: executable,
                    arguments: ["worker", "--listen", "127.0.0.1:\(workerBasePort + i - 1)", "--name", "w\(i)", "--zone", i % 2 == 1 ? "a" : "b",
                                "--repository", desired.repository, "--synchronizer", sync, "--admin-token-file", tokenFile, "--exit-with-parent", me],
                    logPath: "\(runDir)/worker-w\(i).log", onExit: onExit
                ))
            }
            cluster.add(try ChildProcess(
                name: "router", executable: executable,
                arguments: ["router", "--listen", "127.0.0.1:\(routerPort)", "--synchronizer", sync, "--routes-cache", "\(runDir)/routes.json", "--exit-with-parent", me]
                    + tlsArguments,
                logPath: "\(runDir)/router.log", onExit: onExit
            ))
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

        var failed = false
        loop: for await event in events.stream {
            switch event {
            case .ready(.success(let summary)):
                print(summary.render(routerURL: "http://127.0.0.1:\(routerPort)", synchronizer: sync, logs: runDir, tls: tlsCert != nil))
            case .ready(.failure(let message)):
                print("hedgerow up: not ready after \(Int(readyTimeout)) s: \(message)\nlogs: \(runDir)")
                failed = true
                break loop
            case .childExited(let child, let how):
                print("hedgerow up: \(child.name) (pid \(child.pid)) \(how). Its last log lines (\(child.logPath)):\n\(child.lastLogLines())")
                if child.name == "router" {
                    print("hedgerow up: nothing serves clients without the router; stopping everything.")
                    failed = true
                    break loop
                }
                print(child.name == "synchronizer"
                      ? "hedgerow up: still serving on the last routing table; model moves wait for a synchronizer."
                      : "hedgerow up: still serving from the other workers; the synchronizer moves its replicas.")
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
        if failed { throw ExitCode.failure }
    }
}

enum ClusterEvent: Sendable {
    case ready(Result<Readiness.Summary, Readiness.NotReady>)
    case childExited(ChildProcess, String)
    case signal(Int32)
}

/// The children of `up`, stopped together: SIGTERM, up to 10 s to finish in-flight work, then SIGKILL.
final class Cluster: Sendable {
    private let children = NIOLockedValueBox<[ChildProcess]>([])

    func add(_ child: ChildProcess) { children.withLockedValue { $0.append(child) } }

    func stop() async {
        let all = children.withLockedValue { $0 }
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
