import Foundation
import Testing

/// A replica that stalls every request is hedged around: clients see the fast replica's latency, the router
/// counts hedges and wins, the stalled worker drops the requests the router cancelled before running them, and
/// peak-EWMA balancing stops sending it primaries once it has shown itself slow.
@Suite(.serialized) struct HedgingTests {
    @Test func stalledReplicaIsHedgedAroundAndItsLosersAreDropped() async throws {
        let setup = try RoleTestSetup("hedge")
        defer { setup.removeDirectory() }
        let w = setup.workerPort, token = setup.tokenFile, sync = setup.synchronizer
        let config = try setup.writeConfig(workers: ("slow", "fast"), hedging: "{ percentile: 90, budgetPercent: 100, minDelayMs: 5, maxDelayMs: 60 }")
        let processes = [
            try HedgerowProcess(["synchronizer", "--listen", sync, "--desired", config, "--admin-token-file", token]),
            try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(w)", "--name", "slow", "--admin-token-file", token,
                                 "--fault-delay-percent", "100", "--fault-delay-ms", "1500"]),
            try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(w + 1)", "--name", "fast", "--admin-token-file", token]),
            try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", sync]),
        ]
        let router = H2Client(address: setup.router)
        let slow = H2Client(address: "127.0.0.1:\(w)")
        let ready = await RoleTestSetup.waitForReplicas(["127.0.0.1:\(w)", "127.0.0.1:\(w + 1)"], via: router, seconds: 60)
        try #require(ready, "both replicas never became routable")

        let body = try JSONSerialization.data(withJSONObject: ["instances": [[Double](repeating: 0.25, count: 64)]])
        var worst = Duration.zero
        for _ in 0..<40 {
            let started = ContinuousClock.now
            let answer = try await router.send(.POST, "/v1/models/digits:predict", body: body)
            worst = max(worst, ContinuousClock.now - started)
            #expect(answer.status == 200)
            #expect(answer.text.contains("predictions"))
        }
        // Without hedging, about half of these would take 1.5 s (P2C sends primaries to both replicas).
        #expect(worst < .milliseconds(700), "slowest request took \(worst)")

        let metrics = try await router.send(.GET, "/metrics").text
        let hedges = Self.counter(metrics, "hedgerow_router_hedges_total{model=\"digits\"}")
        let wins = Self.counter(metrics, "hedgerow_router_hedge_wins_total{model=\"digits\"}")
        #expect(hedges >= 1 && wins >= 1, "hedges \(hedges), wins \(wins)")
        #expect(metrics.contains("hedgerow_router_hedge_delay_seconds{model=\"digits\"}"))
        #expect(Self.counter(metrics, "hedgerow_router_cancelled_attempts_total{model=\"digits\"}") >= wins)

        // The stalled worker saw the cancellations (RST_STREAM) during its stall and ran none of those requests.
        var dropped = 0.0
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            let text = try await slow.send(.GET, "/metrics").text
            dropped = Self.counter(text, "hedgerow_worker_cancelled_total{model=\"digits\"}")
            if dropped >= wins { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(dropped >= wins, "worker dropped \(dropped) of \(wins) cancelled requests")
        let ran = try await slow.send(.GET, "/metrics").text
        #expect(Self.counter(ran, "hedgerow_worker_inference_duration_seconds_count{model=\"digits\",version=\"1\"}") == 0)
        // A new replica is tried while idle, then its first stalled request makes it the expensive one: without
        // peak-EWMA weighting, P2C on in-flight counts alone would send it about half of the 40 primaries.
        let primaries = Self.counter(ran, "hedgerow_worker_requests_total{model=\"digits\",attempt=\"primary\"}")
        #expect(primaries >= 1 && primaries <= 5, "the stalled replica got \(primaries) of 40 primaries")

        // Model names the routing table does not know are the client's to invent: they share one metrics label
        // instead of adding a time series each.
        for name in ["made-up-1", "made-up-2", "made-up-3"] {
            #expect(try await router.send(.POST, "/v1/models/\(name):predict", body: body).status == 404)
        }
        let after = try await router.send(.GET, "/metrics").text
        #expect(!after.contains("made-up"))
        #expect(after.contains("model=\"(unknown)\""))

        await router.close()
        await slow.close()
        for process in processes { await process.stop() }
    }

    static func counter(_ metrics: String, _ series: String) -> Double {
        for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1)) ?? 0
        }
        return 0
    }
}
