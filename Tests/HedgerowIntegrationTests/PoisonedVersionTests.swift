import Foundation
import Testing

/// A model whose load kills the worker (a test-only fault flag stands in for a model file that traps the runtime)
/// in a desired state with a good model: `hedgerow up` takes down one worker, not both; the synchronizer marks the
/// version poisoned (with how the worker died) and places it nowhere else; the dead worker is restarted and serves
/// the good model again; `up` names the broken model after --ready-timeout and keeps serving the rest.
@Suite(.serialized) struct PoisonedVersionTests {
    @Test func aVersionWhoseLoadKillsAWorkerIsPoisonedAndTheRestServes() async throws {
        let workDir = FileManager.default.temporaryDirectory.appendingPathComponent("hedgerow-poison-\(UUID().uuidString)")
        let repository = workDir.appendingPathComponent("Models")
        try FileManager.default.createDirectory(at: repository.appendingPathComponent("crasher"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: workDir) }
        let digits = HedgerowProcess.repositoryRoot.appendingPathComponent("Models/digits/1")
        try FileManager.default.copyItem(at: digits, to: repository.appendingPathComponent("digits/1"))
        try FileManager.default.copyItem(at: digits, to: repository.appendingPathComponent("crasher/1"))
        let config = workDir.appendingPathComponent("desired-state.yaml")
        try """
            repository: \(repository.path)
            models:
              - name: digits
                versions: { latest: 1 }
                replicas: 2
              - name: crasher
                versions: { latest: 1 }
                replicas: 2
            """.write(to: config, atomically: true, encoding: .utf8)
        let cluster = try UpCluster(config: config, workers: 2, arguments: [
            "--ready-timeout", "15", "--worker-argument=--fault-crash-on-load", "--worker-argument=crasher",
        ])
        let up = cluster.up
        defer { Task { await up.stop() } }

        // Not everything is ready: up says which model is not served and why, and keeps running.
        try #require(await up.waitForOutput("not every model is served", timeout: .seconds(60)), "\(up.text)")
        #expect(up.text.contains("crasher v1: NOT SERVED — poisoned: worker w"), "\(up.text)")
        #expect(up.process.isRunning)

        // One worker died loading it, not both; it was restarted.
        let deaths = cluster.workerDeaths
        #expect(deaths.count == 1, "\(deaths)")
        let sync = cluster.synchronizer
        let control = H2Client(address: sync)
        defer { Task { await control.close() } }
        let state = try await control.send(.GET, "/v1/state").json
        let poisoned = state?["poisoned"] as? [[String: Any]] ?? []
        #expect(poisoned.count == 1 && poisoned.first?["model"] as? String == "crasher", "\(poisoned)")
        let crash = poisoned.first?["crashReport"] as? String ?? ""
        #expect(crash.contains("killed by signal") && crash.contains("fault injection: crashing while loading crasher"), "crash report: \(crash)")

        // The good model is served by both workers again (the restarted one got it back), through the router.
        let h2 = H2Client(address: cluster.router)
        defer { Task { await h2.close() } }
        let row = try QueryOfDeathTests.rows(1)[0]
        let body = try JSONSerialization.data(withJSONObject: ["inputs": [["name": "input", "shape": [1, 64], "datatype": "FP32", "data": row]]])
        var servedBy = Set<String>()
        let deadline = ContinuousClock.now + .seconds(60)
        while servedBy.count < 2 && ContinuousClock.now < deadline {
            if let a = try? await h2.send(.POST, "/v2/models/digits/infer", body: body), a.status == 200, let replica = a.headers.first(name: "hedgerow-replica") {
                servedBy.insert(replica)
            } else {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(servedBy.count == 2, "digits served by \(servedBy)")
        let crasher = try await h2.send(.POST, "/v2/models/crasher/infer", body: body)
        #expect(crasher.status == 503 && crasher.text.contains("no replica up"), "\(crasher.status) \(crasher.text)")

        // `hedgerow status` shows it; `hedgerow clear-poison` lifts it (with the admin token of up's run).
        let status = try HedgerowProcess(["status", "--synchronizer", sync])
        _ = await status.waitForOutput("POISONED", timeout: .seconds(20))
        #expect(status.text.contains("POISONED   crasher v1"), "\(status.text)")
        let runDir = up.text.split(separator: "\n").first { $0.contains("logs          ") }.map { String($0.split(separator: " ").last ?? "") } ?? ""
        let unauthorized = try await control.send(.POST, "/v1/poisoned/crasher/versions/1/clear")
        #expect(unauthorized.status == 401)
        let clear = try HedgerowProcess(["clear-poison", "crasher", "1", "--synchronizer", sync, "--admin-token-file", "\(runDir)/admin-token"])
        #expect(await clear.waitForOutput("may be placed again", timeout: .seconds(20)), "\(clear.text)")
        #expect(await up.stop())
    }
}
