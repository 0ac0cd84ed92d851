import Foundation
import HedgerowCore
import NIOConcurrencyHelpers
import Testing

/// Mirrored canaries with real processes: a synchronizer, one worker holding digits v1 (stable) and a v2 built from
/// v1's ONNX, and a router, under load from concurrent clients. A v2 with two classes swapped is aborted on top-1
/// disagreement once `minSamples` comparisons are in: routers stop mirroring, the abort shows in `/v1/state`,
/// `hedgerow status` and the synchronizer's metrics, disagreements are in the inference log, and no client request
/// fails. A v2 equal to v1 up to weight noise stays healthy and is promoted by a label edit with no failed request.
@Suite(.serialized) struct CanaryMirrorIntegrationTests {
    struct Cluster {
        let setup: RoleTestSetup
        let config: String
        let logs: URL
        let processes: [HedgerowProcess]
        let router: H2Client
        let synchronizer: H2Client
        let rows: [[Double]]

        func stop() async {
            await router.close()
            await synchronizer.close()
            for process in processes.reversed() { await process.stop() }
            setup.removeDirectory()
        }

        func state() async -> [String: Any]? {
            ((try? await synchronizer.send(.GET, "/v1/state").json)?["canaries"] as? [[String: Any]])?.first
        }

        func hedgerowStatus() throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: HedgerowProcess.binary)
            process.arguments = ["status", "--synchronizer", setup.synchronizer]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }

        func metric(_ client: H2Client, _ prefix: String) async -> Double? {
            let text = (try? await client.send(.GET, "/metrics").text) ?? ""
            return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
    }

    /// Starts the roles with digits v1 and `candidate` as v2 (reference.json kept when `keepReference`).
    static func start(_ name: String, candidate: (Data) throws -> Data, keepReference: Bool, canary: String) async throws -> Cluster {
        let setup = try RoleTestSetup(name)
        let files = FileManager.default
        let digits = setup.directory.appendingPathComponent("Models/digits")
        let v1 = URL(fileURLWithPath: setup.repository).appendingPathComponent("digits/1")
        try files.createDirectory(at: digits.appendingPathComponent("2"), withIntermediateDirectories: true)
        try files.copyItem(at: v1, to: digits.appendingPathComponent("1"))
        try candidate(Data(contentsOf: v1.appendingPathComponent("model.onnx"))).write(to: digits.appendingPathComponent("2/model.onnx"))
        if keepReference { try files.copyItem(at: v1.appendingPathComponent("reference.json"), to: digits.appendingPathComponent("2/reference.json")) }
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: v1.appendingPathComponent("reference.json"))) as? [String: Any]
        let rows = try #require((reference?["inputs"] as? [String: Any])?["input"] as? [[Double]])
        let config = setup.directory.appendingPathComponent("desired.yaml").path
        try writeConfig(config, repository: digits.deletingLastPathComponent().path, worker: "127.0.0.1:\(setup.workerPort)", stable: 1, canary: canary)
        let logs = setup.directory.appendingPathComponent("inference-logs")
        let processes = [
            try HedgerowProcess(["synchronizer", "--listen", setup.synchronizer, "--desired", config, "--admin-token-file", setup.tokenFile]),
            try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(setup.workerPort)", "--name", "w1", "--repository", digits.deletingLastPathComponent().path,
                                 "--admin-token-file", setup.tokenFile,
                                 // One worker serves everything while the whole suite runs beside it on two cores: it must queue,
                                 // not shed, or a busy machine fails client requests this test counts.
                                 "--max-queue-delay-ms", "5000"]),
            try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", setup.synchronizer, "--admin-token-file", setup.tokenFile,
                                 "--inference-log-dir", logs.path]),
        ]
        let cluster = Cluster(setup: setup, config: config, logs: logs, processes: processes, router: H2Client(address: setup.router),
                              synchronizer: H2Client(address: setup.synchronizer), rows: rows)
        var canaryRouted = false
        for _ in 0..<600 where !canaryRouted {
            let routes = try? await cluster.router.send(.GET, "/v1/routes").json
            canaryRouted = (((routes?["models"] as? [String: Any])?["digits"] as? [String: Any])?["canary"] as? [String: Any]) != nil
            if !canaryRouted { try await Task.sleep(for: .milliseconds(100)) }
        }
        if !canaryRouted {
            let logs = processes.map(\.text).joined(separator: "\n---\n")
            await cluster.stop()
            throw StartFailed(description: "the canary never reached the routes:\n\(logs.suffix(4000))")
        }
        return cluster
    }

    static func writeConfig(_ path: String, repository: String, worker: String, stable: Int, canary: String) throws {
        try """
            repository: \(repository)
            workers:
              - { name: w1, address: \(worker), zone: a }
            models:
              - name: digits
                versions: { specific: [1, 2] }
                labels: { stable: \(stable) }
                replicas: 1
            \(canary)
            """.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Clients sending requests that name no version, until `stop`; counts answers by version and failures.
    final class Load: Sendable {
        let versions = NIOLockedValueBox<[String: Int]>([:])
        let failures = NIOLockedValueBox<[String]>([])
        let stopped = NIOLockedValueBox(false)

        func run(_ cluster: Cluster, clients: Int = 3) -> Task<Void, Never> {
            Task {
                await withTaskGroup(of: Void.self) { group in
                    for client in 0..<clients {
                        group.addTask {
                            var i = 0
                            // Bounded in count and time: at most 20,000 requests per client, and `stop`.
                            while !self.stopped.withLockedValue({ $0 }) && i < 20_000 {
                                let row = cluster.rows[(client * 7 + i) % cluster.rows.count]
                                let body = try! JSONSerialization.data(withJSONObject: ["inputs": [["name": "input", "shape": [1, row.count], "datatype": "FP32", "data": row]]])
                                do {
                                    let answer = try await cluster.router.send(.POST, "/v2/models/digits/infer", body: body, headers: ["x-request-id": "c\(client)-\(i)"])
                                    if answer.status == 200 {
                                        self.versions.withLockedValue { $0[answer.json?["model_version"] as? String ?? "?", default: 0] += 1 }
                                    } else {
                                        self.failures.withLockedValue { if $0.count < 50 { $0.append("\(answer.status): \(answer.text.prefix(200))") } }
                                    }
                                } catch {
                                    self.failures.withLockedValue { if $0.count < 50 { $0.append("\(error)") } }
                                }
                                i += 1
                            }
                        }
                    }
                }
            }
        }

        func stop(_ task: Task<Void, Never>) async {
            stopped.withLockedValue { $0 = true }
            await task.value
        }
    }

    @Test func aCandidateWithSwappedClassesIsAbortedUnderLoadWithoutAFailedRequest() async throws {
        let cluster = try await Self.start("canary-abort", candidate: { try ModelVariants.swappingClasses(of: $0, 0, 1, classes: 10) }, keepReference: false, canary: """
                canary: { version: 2, mirrorPercent: 50, compare: { atol: 1e-4, rtol: 1e-3 }, abort: { minSamples: 200, maxTop1DisagreePercent: 1 } }
            """)
        let load = Load()
        let task = load.run(cluster)
        var state: [String: Any]?
        for _ in 0..<900 {
            state = await cluster.state()
            if state?["state"] as? String == "aborted" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        // Load goes on across the abort and after it.
        try await Task.sleep(for: .seconds(1))
        let sentAfterAbort = await cluster.metric(cluster.router, "hedgerow_router_canary_mirrors_total{model=\"digits\",candidate=\"2\",result=\"sent\"}")
        try await Task.sleep(for: .seconds(2))
        await load.stop(task)
        defer { Task { await cluster.stop() } }
        let processes = cluster.processes.map(\.text).joined(separator: "\n---\n")
        #expect(state?["state"] as? String == "aborted", "never aborted: \(String(describing: state))\n\(processes.suffix(3000))")
        let reason = state?["reason"] as? String ?? ""
        #expect(reason.contains("top-1 class disagreed"), "\(reason)")
        let tally = state?["tally"] as? [String: Any]
        #expect((tally?["compared"] as? Int ?? 0) >= 200, "\(String(describing: tally))")
        #expect(load.failures.withLockedValue { $0 }.isEmpty, "\(load.failures.withLockedValue { $0.prefix(5) })")
        #expect(load.versions.withLockedValue { $0 }.keys.sorted() == ["1"], "only stable answers: \(load.versions.withLockedValue { $0 })")
        // Aborted everywhere: the routing table says so, the router sends no more mirrors, nothing was unloaded.
        let routes = try await cluster.router.send(.GET, "/v1/routes").json
        let digits = (routes?["models"] as? [String: Any])?["digits"] as? [String: Any]
        #expect((digits?["canary"] as? [String: Any])?["aborted"] is String, "\(String(describing: digits))")
        #expect((digits?["versions"] as? [String: Any])?["2"] != nil, "the candidate is still loaded")
        let sentAtEnd = await cluster.metric(cluster.router, "hedgerow_router_canary_mirrors_total{model=\"digits\",candidate=\"2\",result=\"sent\"}")
        #expect(sentAfterAbort != nil && sentAfterAbort == sentAtEnd, "mirrors after the abort: \(String(describing: sentAfterAbort)) → \(String(describing: sentAtEnd))")
        #expect(await cluster.metric(cluster.synchronizer, "hedgerow_sync_canary_state{model=\"digits\",candidate=\"2\",state=\"aborted\"}") == 1)
        // The worker told shadows apart from served requests.
        let worker = H2Client(address: "127.0.0.1:\(cluster.setup.workerPort)")
        let shadows = await cluster.metric(worker, "hedgerow_worker_requests_total{model=\"digits\",attempt=\"shadow\"}") ?? 0
        await worker.close()
        #expect(shadows >= Double(tally?["compared"] as? Int ?? 0), "shadows counted by the worker: \(shadows)")
        let status = try cluster.hedgerowStatus()
        #expect(status.contains("digits: canary v2 — mirror 50%") && status.contains("ABORTED: ") && status.contains("top-1 class disagreed"), "\(status)")
        // Every disagreement is logged though no logging block samples anything (rate-capped).
        let log = (try? String(contentsOf: cluster.logs.appendingPathComponent("logs/digits.jsonl"), encoding: .utf8)) ?? ""
        let records = log.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(!records.isEmpty && records.allSatisfy { ($0["sampled"] as? Bool) == false && (($0["canary"] as? [String: Any])?["result"] as? String).map { $0 != "agree" } == true },
                "\(records.prefix(2))")
        #expect(records.contains { (($0["canary"] as? [String: Any])?["result"] as? String) == "top1_disagree" })
    }

    @Test func aCandidateWithinNoiseStaysHealthyAndIsPromotedByLabel() async throws {
        let cluster = try await Self.start("canary-promote", candidate: { try ModelVariants.withWeightNoise($0, amplitude: 1e-7) }, keepReference: true, canary: """
                canary: { version: 2, mirrorPercent: 100, abort: { minSamples: 200 } }
            """)
        let load = Load()
        let task = load.run(cluster)
        var state: [String: Any]?
        for _ in 0..<900 {
            state = await cluster.state()
            if ((state?["tally"] as? [String: Any])?["compared"] as? Int ?? 0) >= 400 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let tally = state?["tally"] as? [String: Any]
        #expect(state?["state"] as? String == "running", "\(String(describing: state))\n\(cluster.processes.map(\.text).joined(separator: "\n---\n").suffix(8000))")
        #expect((tally?["compared"] as? Int ?? 0) >= 400 && tally?["top1Disagreements"] as? Int == 0 && tally?["candidateErrors"] as? Int == 0, "\(String(describing: tally))")
        #expect((tally?["maxAbsDifference"] as? Double ?? 1) < 1e-4, "\(String(describing: tally))")
        let status = try cluster.hedgerowStatus()
        #expect(status.contains("digits: canary v2 — mirror 100%") && status.contains("top-1 agree 100%") && status.contains("— healthy"), "\(status)")

        // Promote: v2 is stable and the canary block goes; requests move to v2 with none failed.
        try Self.writeConfig(cluster.config, repository: cluster.setup.directory.appendingPathComponent("Models").path,
                             worker: "127.0.0.1:\(cluster.setup.workerPort)", stable: 2, canary: "")
        var promoted = false
        for _ in 0..<600 where !promoted {
            let before = load.versions.withLockedValue { $0["2"] ?? 0 }
            try await Task.sleep(for: .milliseconds(200))
            let snapshot = load.versions.withLockedValue { $0 }
            let canaryGone = await cluster.state() == nil
            promoted = (snapshot["2"] ?? 0) > before + 20 && canaryGone
        }
        let oneAfter = load.versions.withLockedValue { $0 }
        try await Task.sleep(for: .seconds(1))
        await load.stop(task)
        defer { Task { await cluster.stop() } }
        let last = load.versions.withLockedValue { $0 }
        #expect(promoted, "never promoted: \(last)\n\(cluster.processes.map(\.text).joined(separator: "\n---\n").prefix(6000))")
        #expect((last["1"] ?? 0) == (oneAfter["1"] ?? 0), "v1 still answered after the promotion: \(oneAfter) → \(last)")
        #expect(load.failures.withLockedValue { $0 }.isEmpty, "\(load.failures.withLockedValue { $0.prefix(5) })")
        #expect(await cluster.metric(cluster.synchronizer, "hedgerow_sync_canary_state{") == nil, "the canary's gauges are gone with its block")
    }
}

struct StartFailed: Error, CustomStringConvertible {
    var description: String
}
