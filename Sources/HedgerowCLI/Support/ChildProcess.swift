import Foundation
import HedgerowCore
import NIOConcurrencyHelpers

/// One role started by `hedgerow up`: its process, its log file, and how it ended.
final class ChildProcess: Sendable {
    let role: RoleSpec
    var name: String { role.name }
    var logPath: String { role.logPath }
    private let process: Process
    private let stopping = NIOLockedValueBox(false)

    /// When this run started, to tell a crash loop from a role that ran fine for a while.
    let startedAt = ContinuousClock.now

    /// Starts the process; its output goes to `logPath`, appended (a restarted role keeps its earlier log).
    init(role: RoleSpec, executable: String, onExit: @escaping @Sendable (ChildProcess, String) -> Void) throws {
        self.role = role
        let logPath = role.logPath
        if !FileManager.default.fileExists(atPath: logPath) {
            guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: logPath])
            }
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try log.seekToEnd()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = role.arguments
        // A crashing role prints its backtrace unsymbolicated (addresses and images; symbolicating a debug build
        // took 4 s and up to 15 s on a loaded machine, while the process held its port and answered nothing), so it
        // dies, is seen dead and is restarted at once. SWIFT_BACKTRACE set by the user wins.
        var environment = ProcessInfo.processInfo.environment
        if environment["SWIFT_BACKTRACE"] == nil { environment["SWIFT_BACKTRACE"] = "symbolicate=off" }
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        self.process = process
        process.terminationHandler = { [weak self] p in
            guard let self, !self.stopping.withLockedValue({ $0 }) else { return }
            onExit(self, Self.describe(p))
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// SIGTERM now; the caller waits and escalates with `kill()`.
    func terminate() {
        stopping.withLockedValue { $0 = true }
        if process.isRunning { process.terminate() }
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    var uptime: Double {
        (ContinuousClock.now - startedAt).inSeconds
    }

    /// The last lines of the child's log (read from its last 64 KiB): what it said before it died. When the Swift
    /// runtime printed a crash backtrace, the lines before it (the fatal error and the role's last log lines) and
    /// its "Program crashed" line are what tells why; the backtrace itself stays in the log file.
    func lastLogLines(_ count: Int = 8) -> String {
        guard let file = FileHandle(forReadingAtPath: logPath) else { return "" }
        defer { try? file.close() }
        let size = (try? file.seekToEnd()) ?? 0
        try? file.seek(toOffset: size > 65_536 ? size - 65_536 : 0)
        let data = (try? file.readToEnd()) ?? Data()
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        if let backtrace = lines.lastIndex(where: { $0.hasPrefix("*** Signal ") && $0.contains("Backtracing") }) {
            let crashed = lines[backtrace...].first { $0.hasPrefix("*** Program crashed") }
            lines = lines[..<backtrace].filter { !$0.allSatisfy(\.isWhitespace) }.suffix(count - 1) + (crashed.map { [$0] } ?? [])
        }
        return lines.suffix(count).map { "    | \($0)" }.joined(separator: "\n")
    }

    private static func describe(_ p: Process) -> String {
        switch p.terminationReason {
        case .exit: return "exited with status \(p.terminationStatus)"
        case .uncaughtSignal:
            let names: [Int32: String] = [SIGKILL: "SIGKILL", SIGTERM: "SIGTERM", SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT", SIGILL: "SIGILL", SIGBUS: "SIGBUS", SIGINT: "SIGINT", SIGTRAP: "SIGTRAP"]
            return "was killed by signal \(p.terminationStatus) (\(names[p.terminationStatus] ?? "signal"))"
        @unknown default: return "ended"
        }
    }
}
