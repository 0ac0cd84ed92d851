import Foundation
import Testing

/// Each role started on its own (`hedgerow synchronizer|worker|router`), with a static worker list, to check
/// what the roles promise one another: a killed worker's requests are retried on another replica at once,
/// the dead worker leaves the routes, and the router keeps serving while the synchronizer is down.
@Suite(.serialized) struct RoleProcessesTests {
    @Test func routerSurvivesAKilledWorkerAndAMissingSynchronizer() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hedgerow-roles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let token = dir.appendingPathComponent("token").path
        try "integration-token\n".write(toFile: token, atomically: true, encoding: .utf8)

        let routerPort = FreePorts.consecutive(1)
        let syncPort = FreePorts.consecutive(1, avoiding: [routerPort])
        let w = FreePorts.consecutive(2, avoiding: [routerPort, syncPort])
        let config = dir.appendingPathComponent("desired.yaml").path
        try """
            repository: \(HedgerowProcess.repositoryRoot.appendingPathComponent("Models").path)
            workers:
              - { name: w1, address: 127.0.0.1:\(w), zone: a }
              - { name: w2, address: 127.0.0.1:\(w + 1), zone: b }
            models:
              - name: digits
                replicas: 2
                hedging: { budgetPercent: 0 }
            """.write(toFile: config, atomically: true, encoding: .utf8)

        let sync = "127.0.0.1:\(syncPort)"
        var synchronizer = try HedgerowProcess(["synchronizer", "--listen", sync, "--desired", config, "--admin-token-file", token])
        let w1 = try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(w)", "--name", "w1", "--admin-token-file", token, "--repository", "Models"])
        let w2 = try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(w + 1)", "--name", "w2", "--admin-token-file", token, "--repository", "Models", "--synchronizer", sync])
        let router = try HedgerowProcess(["router", "--listen", "127.0.0.1:\(routerPort)", "--synchronizer", sync, "--routes-cache", dir.appendingPathComponent("routes.json").path])
        let all = [w1, w2, router]
        let h2 = H2Client(address: "127.0.0.1:\(routerPort)")
        func replicas() async -> [String] {
            let routes = try? await h2.send(.GET, "/v1/routes").json
            return ((routes?["models"] as? [String: Any])?["digits"] as? [String: Any]).flatMap { ($0["versions"] as? [String: [String]])?["1"] } ?? []
        }
        func waitFor(_ expected: [String], seconds: Int) async -> Bool {
            let deadline = ContinuousClock.now + .seconds(seconds)
            while ContinuousClock.now < deadline {
                if await replicas() == expected { return true }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return false
        }
        let both = ["127.0.0.1:\(w)", "127.0.0.1:\(w + 1)"]
        let ready = await waitFor(both, seconds: 60)
        let seen = await replicas()
        try #require(ready, "routes never listed both workers: \(seen)\n\(synchronizer.text)")

        // The admin API wants the bearer token; without it nothing loads or unloads.
        let worker = H2Client(address: "127.0.0.1:\(w + 1)")
        #expect(try await worker.send(.GET, "/admin/state").status == 401)
        #expect(try await worker.send(.DELETE, "/admin/models/digits/versions/1", headers: ["authorization": "Bearer wrong"]).status == 401)
        let state = try await worker.send(.GET, "/admin/state", headers: ["authorization": "Bearer integration-token"])
        #expect(state.status == 200)
        #expect((state.json?["models"] as? [[String: Any]])?.first?["state"] as? String == "AVAILABLE")
        await worker.close()

        let body = try JSONSerialization.data(withJSONObject: ["instances": [[Double](repeating: 0.5, count: 64)]])
        // kill -9 a worker; every request still succeeds (refused connections are retried on the other replica).
        kill(w1.process.processIdentifier, SIGKILL)
        var failures: [String] = []
        for _ in 0..<100 {
            let answer = try await h2.send(.POST, "/v1/models/digits:predict", body: body)
            if answer.status != 200 { failures.append("\(answer.status) \(answer.text)") }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        // The synchronizer declares w1 dead and takes it out of the routes.
        let dropped = await waitFor(["127.0.0.1:\(w + 1)"], seconds: 15)
        let afterKill = await replicas()
        #expect(dropped, "w1 still routed: \(afterKill)")
        let metrics = try await h2.send(.GET, "/metrics").text
        #expect(metrics.contains("hedgerow_router_request_duration_seconds_bucket{model=\"digits\",code=\"200\""), "\(metrics.prefix(2000))")
        #expect(metrics.contains("hedgerow_router_retries_total{model=\"digits\",reason=\"connect\"}") || metrics.contains("reason=\"connection_lost\""), "no retry counted")

        let workerMetrics = H2Client(address: "127.0.0.1:\(w + 1)")
        #expect(try await workerMetrics.send(.GET, "/metrics").text.contains("hedgerow_worker_inference_duration_seconds_count{model=\"digits\",version=\"1\"}"))
        await workerMetrics.close()

        // Static stability: with the synchronizer gone, the router keeps serving its table.
        await synchronizer.stop()
        for _ in 0..<20 {
            #expect(try await h2.send(.POST, "/v1/models/digits:predict", body: body).status == 200)
        }
        // A restarted synchronizer adopts what is loaded instead of reshuffling it.
        synchronizer = try HedgerowProcess(["synchronizer", "--listen", sync, "--desired", config, "--admin-token-file", token])
        let readopted = await waitFor(["127.0.0.1:\(w + 1)"], seconds: 20)
        #expect(readopted)
        #expect(try await h2.send(.POST, "/v1/models/digits:predict", body: body).status == 200)

        await h2.close()
        for process in all + [synchronizer] { await process.stop() }
    }
}
