import Foundation
import HedgerowCore
import NIOConcurrencyHelpers
import NIOCore

/// One process of simulated workers (`hedgerow bench-fleet --simulate N`), so a fleet larger than one process's
/// open files (a listening socket and a connection per worker) is spread over a few. It speaks lines:
/// it prints `worker <name> <address>` for each worker, then `ready`; on stdin, `silence <name>` silences that
/// worker (answered `silenced <name>`) and `stats` prints `heartbeats <ok> <failed>`. It exits when stdin closes,
/// so it never outlives the benchmark.
public enum FleetSimulator {
    public static func run(
        count: Int, first: Int, synchronizer: String, loadSeconds: Double, adminDelayMs: Int
    ) async throws {
        raiseOpenFileLimit()
        let fleet = try await SimulatedFleet.start(
            count: count, first: first, memoryMB: 64 * 1024, modelBytes: 100 << 20, loadSeconds: loadSeconds,
            adminDelay: .milliseconds(Int64(adminDelayMs)), threads: 2
        )
        for worker in fleet.workers { print("worker \(worker.name) \(worker.address)") }
        print("ready")
        fleet.startHeartbeats(to: synchronizer, interval: 1)
        let byName = Dictionary(uniqueKeysWithValues: fleet.workers.map { ($0.name, $0) })
        // Commands arrive on a thread of their own: reading stdin blocks.
        let closed = NIOLockedValueBox(false)
        let reader = Thread {
            while let line = readLine() {
                let words = line.split(separator: " ")
                if words.count == 2, words[0] == "silence", let worker = byName[String(words[1])] {
                    worker.silence()
                    print("silenced \(worker.name)")
                } else if words == ["stats"] {
                    let counts = fleet.heartbeatCounts.withLockedValue { $0 }
                    print("heartbeats \(counts.ok) \(counts.failed)")
                }
            }
            closed.withLockedValue { $0 = true }
        }
        reader.start()
        while !closed.withLockedValue({ $0 }) { try? await Task.sleep(for: .milliseconds(100)) }
        await fleet.stop()
    }

    /// The soft limit up to the hard one: this process holds a listening socket and a connection per worker.
    static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(fileLimitResource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(fileLimitResource, &limit)
    }

    #if canImport(Glibc)
    private static let fileLimitResource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let fileLimitResource = RLIMIT_NOFILE
    #endif

    /// The soft limit of open files after raising it to the hard one.
    static var openFileLimit: Int {
        raiseOpenFileLimit()
        var limit = rlimit()
        guard getrlimit(fileLimitResource, &limit) == 0 else { return 1024 }
        return Int(clamping: limit.rlim_cur)
    }
}

/// The benchmark's side of one `FleetSimulator` process.
final class SimulatorProcess: Sendable {
    private let process: Process
    private let input: FileHandle
    private let lines = NIOLockedValueBox<[String]>([])

    init(executable: String, count: Int, first: Int, synchronizer: String, loadSeconds: Double, adminDelayMs: Int, log: URL) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "bench-fleet", "--simulate", String(count), "--first", String(first), "--synchronizer", synchronizer,
            "--load-seconds", String(loadSeconds), "--admin-delay-ms", String(adminDelayMs),
        ]
        let stdin = Pipe(), stdout = Pipe()
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: log)
        input = stdin.fileHandleForWriting
        let output = stdout.fileHandleForReading
        // Reading blocks: a thread of its own, which ends when the process closes its output.
        let reader = Thread { [lines] in
            var pending = Data()
            while true {
                let chunk = output.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    lines.withLockedValue { $0.append(line) }
                }
            }
        }
        try process.run()
        reader.start()
    }

    /// Waits for a line that starts with `prefix`, and takes every line up to it; nil after `timeout` seconds or
    /// when the process ended.
    func take(until prefix: String, timeout: Double) async -> [String]? {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while ContinuousClock.now < deadline {
            let taken = lines.withLockedValue { lines -> [String]? in
                guard let end = lines.firstIndex(where: { $0.hasPrefix(prefix) }) else { return nil }
                defer { lines.removeSubrange(0...end) }
                return Array(lines[0...end])
            }
            if let taken { return taken }
            if !process.isRunning { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    func send(_ command: String) {
        try? input.write(contentsOf: Data((command + "\n").utf8))
    }

    /// Closing stdin ends the process; it is killed if it has not ended within 10 s.
    func stop() async {
        try? input.close()
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
