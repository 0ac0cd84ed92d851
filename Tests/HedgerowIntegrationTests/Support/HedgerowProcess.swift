import Foundation
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// Starts the real `hedgerow` binary and stops it (SIGTERM, then SIGKILL after a bound) when done.
final class HedgerowProcess: @unchecked Sendable {
    let process = Process()
    private let output = NIOLockedValueBox("")
    private let pipe = Pipe()

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The binary `swift build` made next to the test bundle, or `HEDGEROW_BINARY`.
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["HEDGEROW_BINARY"] { return path }
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleDir.appendingPathComponent("hedgerow").path,
                          bundleDir.deletingLastPathComponent().appendingPathComponent("hedgerow").path,
                          repositoryRoot.appendingPathComponent(".build/debug/hedgerow").path]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        return repositoryRoot.appendingPathComponent(".build/debug/hedgerow").path
    }

    /// `user`: run as this uid and gid instead (through setpriv(1), which execs in place: the pid stays the binary's).
    init(_ arguments: [String], directory: URL? = nil, user: UInt32? = nil) throws {
        // Roles started by a test exit by themselves if the test process dies (a crash skips every cleanup).
        let roles: Set<String> = ["worker", "router", "synchronizer"]
        let arguments = arguments + (arguments.first.map(roles.contains) == true ? ["--exit-with-parent", "\(getpid())"] : [])
        if let user {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(user)", "--regid=\(user)", "--clear-groups", Self.binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = arguments
        }
        process.currentDirectoryURL = directory ?? Self.repositoryRoot
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        // A thread of its own reads the output until EOF (the process and its children closed it). Not
        // `readabilityHandler`: tearing its dispatch source down while it fires has crashed the test process.
        let output = self.output, reading = pipe.fileHandleForReading
        let reader = Thread {
            while true {
                let data = reading.availableData
                if data.isEmpty { break }
                output.withLockedValue { $0 += String(decoding: data, as: UTF8.self) }
            }
        }
        reader.start()
    }

    var text: String { output.withLockedValue { $0 } }

    /// Waits (bounded) until the output contains `marker`; false on timeout or exit.
    func waitForOutput(_ marker: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if text.contains(marker) { return true }
            if !process.isRunning { return text.contains(marker) }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL. Returns whether it exited by itself within the grace period.
    @discardableResult
    func stop(grace: Duration = .seconds(15)) async -> Bool {
        guard process.isRunning else { return true }
        process.terminate()
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return false
        }
        return true
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Free loopback TCP ports (bound and released; a small race, acceptable for tests).
enum FreePorts {
    /// Whether the loopback port can be bound (nobody holds it).
    static func isFree(_ port: Int) -> Bool { withLoopbackSocket(port) { fd, address, length in bind(fd, address, length) == 0 } }

    /// Whether something accepts connections on the loopback port.
    static func isListening(_ port: Int) -> Bool { withLoopbackSocket(port) { fd, address, length in connect(fd, address, length) == 0 } }

    private static func withLoopbackSocket(_ port: Int, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// Waits (bounded) until something accepts connections on the loopback port.
    static func waitUntilListening(_ port: Int, seconds: Int = 30) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if isListening(port) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Ports already handed out in this test process: suites run in parallel, and a port given to one test stays
    /// free until its process binds it, so without this two tests could be given the same one.
    private static let handedOut = NIOLockedValueBox<Set<Int>>([])

    /// `count` consecutive free ports, starting somewhere in 20000-32000: below the kernel's ephemeral range
    /// (32768 and up here), where outgoing connections would take them. Never the same port twice per process.
    static func consecutive(_ count: Int, avoiding taken: Set<Int> = []) -> Int {
        for _ in 0..<2000 {
            let base = Int.random(in: 20000...(32000 - count))
            let ports = Set(base..<base + count)
            let claimed = handedOut.withLockedValue { handed -> Bool in
                guard ports.isDisjoint(with: handed), ports.isDisjoint(with: taken), ports.allSatisfy(isFree) else { return false }
                handed.formUnion(ports)
                return true
            }
            if claimed { return base }
        }
        fatalError("no free ports on loopback")
    }
}
