import Foundation
import NIOConcurrencyHelpers

/// One role started by `hedgerow up`: its process, its log file, and how it ended.
final class ChildProcess: Sendable {
    let name: String
    let logPath: String
    private let process: Process
    private let stopping = NIOLockedValueBox(false)

    init(name: String, executable: String, arguments: [String], logPath: String, onExit: @escaping @Sendable (ChildProcess, String) -> Void) throws {
        self.name = name
        self.logPath = logPath
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
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

    /// The last lines of the child's log: what it said before it died.
    func lastLogLines(_ count: Int = 8) -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "" }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(count).map { "    | \($0)" }.joined(separator: "\n")
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
