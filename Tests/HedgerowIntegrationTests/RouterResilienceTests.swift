import Foundation
import NIOHTTP1
import Testing

/// What the router does when replicas misbehave, with real processes: deadlines end in 504 with every attempt
/// cancelled, an overloaded model is shed with 503 + Retry-After, a dead replica is ejected and comes back once
/// its health probe passes, and `kill -9` of a worker under concurrent load fails no client request.
@Suite(.serialized) struct RouterResilienceTests {
    static let body = try! JSONSerialization.data(withJSONObject: ["instances": [[Double](repeating: 0.5, count: 64)]])

    @Test func deadlinesAnswer504AndAnOverloadedModelIsShed() async throws {
        let setup = try RoleTestSetup("deadline")
        defer { setup.removeDirectory() }
        let w = setup.workerPort, token = setup.tokenFile, sync = setup.synchronizer
        // Both replicas stall every request for 1.5 s; the model's own deadline is 400 ms.
        let config = try setup.writeConfig(workers: ("s1", "s2"), hedging: "{ budgetPercent: 100, minDelayMs: 50, maxDelayMs: 50, timeoutMs: 400 }")
        let stall = ["--fault-delay-percent", "100", "--fault-delay-ms", "1500"]
        let processes = [
            try HedgerowProcess(["synchronizer", "--listen", sync, "--desired", config, "--admin-token-file", token]),
            try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(w)", "--name", "s1", "--admin-token-file", token] + stall),
            try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(w + 1)", "--name", "s2", "--admin-token-file", token] + stall),
            try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", sync, "--max-in-flight-per-model", "2"]),
        ]
        let router = H2Client(address: setup.router)
        let replicas = ["127.0.0.1:\(w)", "127.0.0.1:\(w + 1)"]
        let ready = await RoleTestSetup.waitForReplicas(replicas, via: router, seconds: 60)
        try #require(ready, "both replicas never became routable")

        // The model's default deadline (400 ms) and a client's shorter one (200 ms) both end in 504, on time.
        for (headers, limit) in [([:], 400), (["hedgerow-timeout-ms": "200"], 200)] as [(HTTPHeaders, Int)] {
            let started = ContinuousClock.now
            let answer = try await router.send(.POST, "/v1/models/digits:predict", body: Self.body, headers: headers)
            let took = ContinuousClock.now - started
            #expect(answer.status == 504, "\(answer.status) \(answer.text)")
            #expect(answer.text.contains("deadline"), "\(answer.text)")
            #expect(took >= .milliseconds(limit) && took < .milliseconds(limit + 600), "504 after \(took) for a \(limit) ms deadline")
        }
        // Every attempt of those requests (primary and hedge) was reset, and the stalled workers dropped them.
        var dropped = 0.0
        let until = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < until {
            dropped = 0
            for address in replicas {
                let worker = H2Client(address: address)
                let text = try await worker.send(.GET, "/metrics").text
                dropped += HedgingTests.counter(text, "hedgerow_worker_cancelled_total{model=\"digits\"}")
                await worker.close()
            }
            if dropped >= 4 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(dropped >= 4, "workers dropped \(dropped) of the 4 attempts the deadlines cancelled")

        // Six at once against a bound of two in flight: four are turned away at once with 503 + Retry-After.
        let answers = try await withThrowingTaskGroup(of: (Answer, Duration).self) { group in
            for _ in 0..<6 {
                group.addTask {
                    let started = ContinuousClock.now
                    let answer = try await router.send(.POST, "/v1/models/digits:predict", body: Self.body, headers: ["hedgerow-timeout-ms": "3000"])
                    return (answer, ContinuousClock.now - started)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let shed = answers.filter { $0.0.status == 503 }
        #expect(shed.count == 4, "\(answers.map { $0.0.status })")
        #expect(answers.filter { $0.0.status == 200 }.count == 2, "\(answers.map { $0.0.status })")
        for (answer, took) in shed {
            #expect(answer.headers.first(name: "retry-after") == "1")
            #expect(answer.text.contains("in flight"), "\(answer.text)")
            #expect(took < .milliseconds(500), "shed after \(took)")
        }
        let metrics = try await router.send(.GET, "/metrics").text
        #expect(HedgingTests.counter(metrics, "hedgerow_router_shed_total{model=\"digits\"}") == 4)

        await router.close()
        for process in processes { await process.stop() }
    }

    @Test func aDeadReplicaIsEjectedAndReturnsWhenItsProbePasses() async throws {
        let setup = try RoleTestSetup("eject")
        defer { setup.removeDirectory() }
        let w = setup.workerPort, token = setup.tokenFile
        let dead = "127.0.0.1:\(w)", alive = "127.0.0.1:\(w + 1)"
        // No synchronizer: the router serves a cached table listing a replica nobody listens on.
        let cache = setup.directory.appendingPathComponent("routes.json").path
        try """
            {"generation": 1, "models": {"digits": {"versions": {"1": ["\(dead)", "\(alive)"]}, "labels": {}, "default": 1,
             "hedging": {"percentile": 95, "budgetPercent": 0, "minDelayMs": 1, "maxDelayMs": 1000}}}}
            """.write(toFile: cache, atomically: true, encoding: .utf8)
        let worker = try HedgerowProcess(["worker", "--listen", alive, "--name", "alive", "--admin-token-file", token])
        let router = try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", setup.synchronizer,
                                          "--routes-cache", cache, "--ejection-ms", "500"])
        var processes = [worker, router]
        try await Self.load(worker: alive, token: setup.token)
        let routerUp = await FreePorts.waitUntilListening(setup.routerPort)
        try #require(routerUp, "the router never listened:\n\(router.text)")
        let client = H2Client(address: setup.router)

        // Every request succeeds (the refused connection is retried, free of the budget, which is 0 here),
        // and after the first refusal the dead replica gets no more attempts.
        var served: [String: Int] = [:]
        for _ in 0..<30 {
            let answer = try await client.send(.POST, "/v1/models/digits:predict", body: Self.body)
            #expect(answer.status == 200, "\(answer.status) \(answer.text)")
            served[answer.headers.first(name: "hedgerow-replica") ?? "?", default: 0] += 1
        }
        #expect(served == [alive: 30])
        var metrics = try await client.send(.GET, "/metrics").text
        #expect(HedgingTests.counter(metrics, "hedgerow_router_ejections_total{replica=\"\(dead)\"}") == 1, "\(metrics)")
        #expect(HedgingTests.counter(metrics, "hedgerow_router_ejected_replicas{model=\"digits\"}") == 1)
        #expect(HedgingTests.counter(metrics, "hedgerow_router_retries_total{model=\"digits\",reason=\"connect\"}") == 1)

        // A worker starts on the dead address: the next probe passes and the replica takes traffic again.
        let revived = try HedgerowProcess(["worker", "--listen", dead, "--name", "revived", "--admin-token-file", token])
        processes.append(revived)
        try await Self.load(worker: dead, token: setup.token)
        var back = false
        let until = ContinuousClock.now + .seconds(20)
        while !back && ContinuousClock.now < until {
            let answer = try await client.send(.POST, "/v1/models/digits:predict", body: Self.body)
            #expect(answer.status == 200)
            back = answer.headers.first(name: "hedgerow-replica") == dead
            if !back { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(back, "the revived replica never got traffic again\n\(router.text)")
        metrics = try await client.send(.GET, "/metrics").text
        #expect(HedgingTests.counter(metrics, "hedgerow_router_ejected_replicas{model=\"digits\"}") == 0)
        #expect(router.text.contains("replica returned to service"))

        await client.close()
        for process in processes { await process.stop() }
    }

    /// Loads digits v1 on a worker through its admin API and waits (bounded) until it is AVAILABLE.
    static func load(worker address: String, token: String) async throws {
        let admin = H2Client(address: address)
        defer { Task { await admin.close() } }
        let auth: HTTPHeaders = ["authorization": "Bearer \(token)"]
        let until = ContinuousClock.now + .seconds(30)
        var available = false
        while !available && ContinuousClock.now < until {
            if let answer = try? await admin.send(.PUT, "/admin/models/digits/versions/1", headers: auth), answer.status < 300 {
                let state = try await admin.send(.GET, "/admin/state", headers: auth)
                available = (state.json?["models"] as? [[String: Any]])?.first?["state"] as? String == "AVAILABLE"
            }
            if !available { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(available, "digits v1 never became AVAILABLE on \(address)")
    }
}
