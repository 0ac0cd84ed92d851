import Foundation
import Testing

/// Each role started on its own (`hedgerow synchronizer|worker|router`), with a static worker list, to check
/// what the roles promise one another: a killed worker's requests are retried on another replica at once,
/// the dead worker leaves the routes, and the router keeps serving while the synchronizer is down.
@Suite(.serialized) struct RoleProcessesTests {
    @Test func routerSurvivesAKilledWorkerAndAMissingSynchronizer() async throws {
        let setup = try RoleTestSetup("roles")
        defer { setup.removeDirectory() }
        let w = setup.workerPort, token = setup.tokenFile, sync = setup.synchronizer
        let config = try setup.writeConfig(workers: ("w1", "w2"), hedging: "{ budgetPercent: 0 }")

        var synchronizer = try HedgerowProcess(["synchronizer", "--listen", sync, "--desired", config, "--admin-token-file", token])
        let w1 = try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(w)", "--name", "w1", "--admin-token-file", token, "--repository", "Models"])
        let w2 = try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(w + 1)", "--name", "w2", "--admin-token-file", token, "--repository", "Models", "--synchronizer", sync])
        let router = try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", sync, "--routes-cache", setup.directory.appendingPathComponent("routes.json").path])
        let all = [w1, w2, router]
        let h2 = H2Client(address: setup.router)
        func replicas() async -> [String] { await RoleTestSetup.replicas(via: h2) }
        func waitFor(_ expected: [String], seconds: Int) async -> Bool { await RoleTestSetup.waitForReplicas(expected, via: h2, seconds: seconds) }
        let both = ["127.0.0.1:\(w)", "127.0.0.1:\(w + 1)"]
        let ready = await waitFor(both, seconds: 60)
        let seen = await replicas()
        try #require(ready, "routes never listed both workers: \(seen)\n\(synchronizer.text)")

        // The admin API wants the bearer token; without it nothing loads or unloads.
        let worker = H2Client(address: "127.0.0.1:\(w + 1)")
        #expect(try await worker.send(.GET, "/admin/state").status == 401)
        #expect(try await worker.send(.DELETE, "/admin/models/digits/versions/1", headers: ["authorization": "Bearer wrong"]).status == 401)
        let state = try await worker.send(.GET, "/admin/state", headers: ["authorization": "Bearer \(setup.token)"])
        #expect(state.status == 200)
        #expect((state.json?["models"] as? [[String: Any]])?.first?["state"] as? String == "AVAILABLE")
        await worker.close()

        let body = try JSONSerialization.data(withJSONObject: ["instances": [[Double](repeating: 0.5, count: 64)]])
        // kill -9 a worker under load (four clients sending back to back); every request still succeeds: the lost
        // connections and refused reconnects are retried on the other replica at once. Each client sends for 1.5 s
        // past the kill and at least 30 requests in all (a debug build on a busy machine can be slow), within 20 s.
        let killAt = ContinuousClock.now + .milliseconds(500), stopAt = killAt + .milliseconds(1500), giveUpAt = killAt + .seconds(20)
        let (sent, failures) = try await withThrowingTaskGroup(of: (Int, [String]).self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var sent = 0, failures: [String] = []
                    while (ContinuousClock.now < stopAt || sent < 30) && ContinuousClock.now < giveUpAt && sent < 5_000 {
                        let answer = try await h2.send(.POST, "/v1/models/digits:predict", body: body)
                        sent += 1
                        if answer.status != 200 { failures.append("\(answer.status) \(answer.text)") }
                    }
                    return (sent, failures)
                }
            }
            try await Task.sleep(until: killAt)
            kill(w1.process.processIdentifier, SIGKILL)
            return try await group.reduce(into: (0, [String]())) { $0.0 += $1.0; $0.1 += $1.1 }
        }
        #expect(sent > 100, "only \(sent) requests sent around the kill")
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        // The synchronizer declares w1 dead and takes it out of the routes.
        let dropped = await waitFor(["127.0.0.1:\(w + 1)"], seconds: 15)
        let afterKill = await replicas()
        #expect(dropped, "w1 still routed: \(afterKill)")
        let metrics = try await h2.send(.GET, "/metrics").text
        #expect(metrics.contains("hedgerow_router_request_duration_seconds_bucket{model=\"digits\",code=\"200\""), "\(metrics.prefix(2000))")
        #expect(metrics.contains("hedgerow_router_retries_total{model=\"digits\",reason=\"connect\"}") || metrics.contains("reason=\"connection_lost\""), "no retry counted")

        let workerMetrics = H2Client(address: "127.0.0.1:\(w + 1)")
        let workerText = try await workerMetrics.send(.GET, "/metrics").text
        #expect(workerText.contains("hedgerow_worker_inference_duration_seconds_count{model=\"digits\",version=\"1\"}"))
        #expect(workerText.contains("hedgerow_worker_load_duration_seconds_count{model=\"digits\"} 1"), "\(workerText.split(separator: "\n").filter { $0.contains("load_duration_seconds_count") })")
        #expect(workerText.split(separator: "\n").contains { $0.hasPrefix("hedgerow_worker_models_loaded 1") }, "\(workerText.split(separator: "\n").filter { $0.contains("models_loaded") })")
        await workerMetrics.close()
        // Every process says what it is and what it costs.
        let syncClient = H2Client(address: sync)
        let syncText = try await syncClient.send(.GET, "/metrics").text
        await syncClient.close()
        for (role, text) in [("router", metrics), ("worker", workerText), ("synchronizer", syncText)] {
            let lines = text.split(separator: "\n")
            #expect(lines.contains { $0.hasPrefix("hedgerow_build_info{") && $0.contains("role=\"\(role)\"") && Double($0.split(separator: " ").last ?? "") == 1 }, "\(role): \(lines.filter { $0.contains("build_info") })")
            for name in ["process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_start_time_seconds ", "process_open_fds "] {
                let value = lines.first { $0.hasPrefix(name) }.flatMap { Double($0.dropFirst(name.count)) }
                #expect((value ?? 0) > 0, "\(role): \(name)= \(String(describing: value))")
            }
        }
        #expect(metrics.contains("hedgerow_router_requests_in_flight{model=\"digits\"} 0"), "\(metrics.split(separator: "\n").filter { $0.contains("in_flight") })")
        let syncLines = syncText.split(separator: "\n")
        #expect(syncLines.contains("hedgerow_sync_desired_replicas{model=\"digits\",version=\"1\"} 2.0") || syncLines.contains("hedgerow_sync_desired_replicas{model=\"digits\",version=\"1\"} 2"), "\(syncLines.filter { $0.contains("replicas") })")
        #expect(syncLines.contains { $0.hasPrefix("hedgerow_sync_ready_replicas{model=\"digits\",version=\"1\"}") })
        #expect(syncLines.contains { $0.hasPrefix("hedgerow_sync_unplaced_replicas{model=\"digits\",version=\"1\"}") })
        #expect(syncLines.contains { $0.hasPrefix("hedgerow_sync_workers{state=\"alive\"}") }, "\(syncLines.filter { $0.contains("workers") })")
        #expect(syncLines.contains { $0.hasPrefix("hedgerow_sync_config_refused 0") })

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

    @Test func aWorkerSaysHowItsThreadsShareTheCoresAndRefusesNonsense() async throws {
        let port = FreePorts.consecutive(1)
        let worker = try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(port)", "--name", "w1", "--inference-threads", "3", "--blas-threads", "2"])
        let said = await worker.waitForOutput("blas=2", timeout: .seconds(30))
        #expect(said && worker.text.contains("inference=3"), "\(worker.text)")
        await worker.stop()
        let refused = try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(port)", "--name", "w1", "--blas-threads", "0"])
        let exited = await refused.waitForOutput("--blas-threads must be within 1...256, got 0", timeout: .seconds(30))
        #expect(exited, "\(refused.text)")
        await refused.stop()
    }
}
