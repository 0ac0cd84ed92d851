import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Scripts/protocol-fuzz.py with its short budget against a real worker (serving Models/digits) and a real
/// router in front of it: malformed HTTP/1.1, bad prefaces, bad HTTP/2 frames, HPACK bombs, CONTINUATION
/// floods, rapid reset, floods of idle and slow connections, and seeded mutations. Fails if either process died
/// or stopped answering good h2c and HTTP/1.1 requests. `make protocol-fuzz` runs the long version.
@Suite(.serialized) struct ProtocolFuzzTests {
    static let python: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static let script = HedgerowProcess.repositoryRoot.appendingPathComponent("Scripts/protocol-fuzz.py").path

    @Test(.enabled(if: ProtocolFuzzTests.python != nil, "python3 is not on PATH: the protocol fuzzer needs it (standard library only)"))
    func routerAndWorkerSurviveTheProtocolFuzzer() async throws {
        let python = try #require(Self.python)
        let setup = try RoleTestSetup("protocol-fuzz")
        defer { setup.removeDirectory() }
        let workerAddress = "127.0.0.1:\(setup.workerPort)"
        // No synchronizer: the router serves a cached table that routes digits v1 to the one worker.
        let cache = setup.directory.appendingPathComponent("routes.json").path
        try """
            {"generation": 1, "models": {"digits": {"versions": {"1": ["\(workerAddress)"]}, "labels": {}, "default": 1,
             "hedging": {"percentile": 95, "budgetPercent": 0, "minDelayMs": 1, "maxDelayMs": 1000}}}}
            """.write(toFile: cache, atomically: true, encoding: .utf8)
        let worker = try HedgerowProcess(["worker", "--listen", workerAddress, "--name", "fuzz", "--admin-token-file", setup.tokenFile])
        let router = try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", setup.synchronizer, "--routes-cache", cache])
        let processes = [worker, router]
        do {
            try await RouterResilienceTests.load(worker: workerAddress, token: setup.token)
            let routerUp = await FreePorts.waitUntilListening(setup.routerPort)
            try #require(routerUp, "the router never listened:\n\(router.text)")

            let (status, output) = try await Self.runFuzzer(python: python, arguments: [
                "--quick",
                "--target", "router=\(setup.router):\(router.process.processIdentifier)",
                "--target", "worker=\(workerAddress):\(worker.process.processIdentifier)",
            ], limit: .seconds(120))
            #expect(status == 0, "the protocol fuzzer failed (exit \(status)):\n\(output)\n--- router ---\n\(router.text.suffix(3000))\n--- worker ---\n\(worker.text.suffix(3000))")
            #expect(output.contains("PASS"), "\(output)")
            #expect(worker.process.isRunning, "the worker died:\n\(worker.text.suffix(3000))")
            #expect(router.process.isRunning, "the router died:\n\(router.text.suffix(3000))")
        } catch {
            for process in processes { await process.stop() }
            throw error
        }
        for process in processes { await process.stop() }
    }

    /// Runs the fuzzer to its end, or kills it after `limit`; returns its exit status (-1 when killed) and output.
    static func runFuzzer(python: String, arguments: [String], limit: Duration) async throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-u", script] + arguments
        process.currentDirectoryURL = HedgerowProcess.repositoryRoot
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("protocol-fuzz-\(UUID().uuidString).log")
        guard FileManager.default.createFile(atPath: output.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: output.path])
        }
        let handle = try FileHandle(forWritingTo: output)
        defer {
            try? handle.close()
            try? FileManager.default.removeItem(at: output)
        }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = ContinuousClock.now + limit
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        var killed = false
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            killed = true
        }
        process.waitUntilExit()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        return (killed ? -1 : process.terminationStatus, killed ? text + "\n(killed after \(limit))" : text)
    }
}
