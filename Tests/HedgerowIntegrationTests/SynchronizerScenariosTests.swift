import Foundation
import NIOConcurrencyHelpers
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The changes an operator makes, each under a steady request load through the router, with real processes:
/// (a) move a model by editing its pins, (d) write an invalid file then fix it, (b) roll digits from version 1
/// to 2 by adding it to the repository, (c) `kill -9` a worker, (e) restart the synchronizer. Not one client
/// request may fail, and each change must converge; how long each took is printed (`CONVERGED …`).
@Suite(.serialized) struct SynchronizerScenariosTests {
    @Test func everyChangeConvergesWithoutAFailedRequest() async throws {
        let setup = try RoleTestSetup("scenarios")
        defer { setup.removeDirectory() }
        let cluster = try ScenarioCluster(setup)
        defer { cluster.killAll() }
        let h2 = H2Client(address: setup.router)
        let load = SteadyLoad(client: h2)
        var timings: [(String, Double)] = []
        func converge(_ scenario: String, within seconds: Double = 60, _ condition: () async -> Bool) async -> Bool {
            let started = ContinuousClock.now
            while ContinuousClock.now - started < .milliseconds(Int(seconds * 1000)) {
                if await condition() {
                    let took = ContinuousClock.now - started
                    let value = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
                    timings.append((scenario, value))
                    print("CONVERGED \(scenario): \(String(format: "%.2f", value)) s")
                    return true
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return false
        }
        let (w1, w2, w3) = (cluster.address(0), cluster.address(1), cluster.address(2))

        let started = await converge("start: digits v1 on w1, w2") { await cluster.routes(via: h2) == ["1": [w1, w2].sorted()] }
        let initial = await cluster.routes(via: h2)
        try #require(started, "digits never served from w1, w2: \(initial)\n\(cluster.synchronizer.text)")
        load.start()
        try await Task.sleep(for: .seconds(1))

        // (a) Move by editing the pins: w3 loads, enters the routes, then w1 leaves them and unloads.
        load.phase("a")
        try cluster.writeConfig(placement: "{ workers: [w2, w3] }")
        let moved = await converge("(a) move w1 → w3 by YAML edit") {
            let routes = await cluster.routes(via: h2)
            let onW1 = await cluster.loaded(on: 0)
            return routes == ["1": [w2, w3].sorted()] && onW1.isEmpty
        }
        let routesAfterMoved = await cluster.routes(via: h2)
        #expect(moved, "\(routesAfterMoved)\n\(cluster.synchronizer.text)")
        #expect(cluster.synchronizer.text.contains("moving digits v1 from w1 to w3: w1 not among the pinned workers w2, w3"))

        // (d) An invalid edit is refused with file:line:column and changes nothing; the fix is applied.
        load.phase("d")
        try cluster.writeConfig(placement: "{ spreadBy: zone }", replicas: "0", extra: "    colour: blue\n")
        let refused = await converge("(d) invalid YAML refused") { (await cluster.state())?["configFileRefused"] as? Bool == true }
        let error = (await cluster.state())?["lastConfigError"] as? String ?? ""
        #expect(refused)
        let errorsCounted = await cluster.synchronizerMetrics()
        #expect(errorsCounted.contains("hedgerow_sync_config_errors_total 1"), "\(errorsCounted)")
        #expect(error.contains("desired.yaml:8:15: models[0].replicas: must be ≥ 1, got 0"), "\(error)")
        #expect(error.contains("colour"), "\(error)")
        try await Task.sleep(for: .seconds(1))
        let routesWhileRefused = await cluster.routes(via: h2)
        #expect(routesWhileRefused == ["1": [w2, w3].sorted()])
        let hashBefore = (await cluster.state())?["configHash"] as? String
        try cluster.writeConfig(placement: "{ spreadBy: zone }")
        let fixed = await converge("(d) fixed YAML applied") {
            let state = await cluster.state()
            return state?["configFileRefused"] as? Bool == false && state?["configHash"] as? String != hashBefore
        }
        #expect(fixed)
        let routesAfterFix = await cluster.routes(via: h2)
        #expect(routesAfterFix == ["1": [w2, w3].sorted()], "a placement edit that the current replicas satisfy moved them")

        // (b) Roll to version 2: it appears in the repository (`latest: 1`), loads, takes the routes; v1 unloads.
        load.phase("b")
        try cluster.addVersion2()
        var v2Workers: [String] = []
        let rolled = await converge("(b) roll digits 1 → 2") {
            let routes = await cluster.routes(via: h2)
            guard routes.keys.sorted() == ["2"], routes["2"]?.count == 2 else { return false }
            v2Workers = routes["2"]!
            for worker in 0..<3 where await cluster.loaded(on: worker).contains("digits/1") { return false }
            return true
        }
        let routesAfterRolled = await cluster.routes(via: h2)
        #expect(rolled, "\(routesAfterRolled)\n\(cluster.synchronizer.text)")
        #expect(cluster.synchronizer.text.contains("placing digits v2 on"))
        #expect(cluster.synchronizer.text.contains("retiring digits v1 from"))
        try await Task.sleep(for: .milliseconds(500))
        let versionsAfterRoll = load.versionsSince(ContinuousClock.now - .milliseconds(300))
        #expect(versionsAfterRoll == ["2"], "answers after the roll came from \(versionsAfterRoll)")

        // (c) kill -9 a worker serving v2: requests retry elsewhere at once, v2 is placed on the worker left.
        load.phase("c")
        let victim = try #require(v2Workers.compactMap { cluster.index(of: $0) }.first { $0 < 2 }, "v2 is on no static worker: \(v2Workers)")
        cluster.kill(victim)
        let survivors = [w1, w2, w3].filter { $0 != cluster.address(victim) }.sorted()
        let replaced = await converge("(c) kill -9 w\(victim + 1), v2 replaced") { await cluster.routes(via: h2) == ["2": survivors] }
        let routesAfterReplaced = await cluster.routes(via: h2)
        #expect(replaced, "\(routesAfterReplaced)\n\(cluster.synchronizer.text)")
        #expect(cluster.synchronizer.text.contains("moving digits v2 from w\(victim + 1) to"), "\(cluster.synchronizer.text)")

        // (f) A worker that hangs (SIGSTOP) misses 3 heartbeats and leaves the routes; when it comes back with v2
        // still loaded, it is adopted again, not wiped and reloaded.
        load.phase("f")
        let (hung, other) = (2, survivors.first { $0 != w3 }!)
        cluster.pause(hung)
        let dropped = await converge("(f) hung w3 dropped after missed heartbeats") { await cluster.routes(via: h2) == ["2": [other]] }
        let routesWhileHung = await cluster.routes(via: h2)
        #expect(dropped, "\(routesWhileHung)\n\(cluster.synchronizer.text)")
        cluster.resume(hung)
        let back = await converge("(f) w3 back, adopted with v2 still loaded") { await cluster.routes(via: h2) == ["2": survivors] }
        #expect(back, "\(cluster.synchronizer.text)")
        #expect(!cluster.synchronizer.text.contains("unloading digits v2 from w3"), "\(cluster.synchronizer.text)")
        #expect(cluster.synchronizer.text.contains("cannot place every replica: digits v2: needs 2 replicas"), "\(cluster.synchronizer.text)")

        // (e) Restart the synchronizer: routers keep serving meanwhile; the new one adopts what is loaded.
        load.phase("e")
        let generationBefore = (await cluster.state())?["generation"] as? Int ?? 0
        try await cluster.restartSynchronizer()
        let readopted = await converge("(e) synchronizer restarted, state adopted") {
            guard let state = await cluster.state(), let generation = state["generation"] as? Int, generation > generationBefore,
                  let versions = state["versions"] as? [[String: Any]], versions.count == 1,
                  versions[0]["readyReplicas"] as? Int == 2 else { return false }
            let routerGeneration = await cluster.routerGeneration(via: h2)
            let routes = await cluster.routes(via: h2)
            return routerGeneration == generation && routes == ["2": survivors]
        }
        #expect(readopted, "\(cluster.synchronizer.text)")
        #expect(cluster.synchronizer.text.contains("adopting digits v2 on"), "\(cluster.synchronizer.text)")
        #expect(!cluster.synchronizer.text.contains("unloading"), "a restarted synchronizer unloaded something:\n\(cluster.synchronizer.text)")
        let metrics = await cluster.synchronizerMetrics()
        for series in [#"hedgerow_sync_ready_replicas{model="digits",version="2"} 2"#, #"hedgerow_sync_desired_replicas{model="digits",version="2"} 2"#,
                       #"hedgerow_sync_unplaced_replicas{model="digits",version="2"} 0"#,
                       "hedgerow_sync_generation ", "hedgerow_sync_round_duration_seconds_count "] {
            #expect(metrics.contains(series), "no \(series) in\n\(metrics)")
        }
        try await Task.sleep(for: .seconds(1))

        let result = await load.stop()
        await h2.close()
        print("LOAD \(result.total) requests, \(result.failures.count) failed; per phase \(result.perPhase.sorted { $0.key < $1.key })")
        #expect(result.total > 200, "only \(result.total) requests sent")
        #expect(result.failures.isEmpty, "\(result.failures.count) failed: \(result.failures.prefix(5))")
        for phase in ["a", "b", "c", "d", "e", "f"] { #expect(result.perPhase[phase, default: 0] > 10, "phase \(phase) saw no load") }
        await cluster.stopAll()
    }
}
