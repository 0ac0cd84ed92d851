import Foundation
import Testing

/// Sampled inference logs with real processes: 1 % of 10,000 requests is written (within the binomial bound), each
/// record whole and matching the request it logs; a log directory that cannot be written drops and counts records
/// while every request still succeeds.
@Suite(.serialized) struct InferenceLogIntegrationTests {
    @Test func onePercentIsWrittenAndAnUnwritablePathFailsNothing() async throws {
        let setup = try RoleTestSetup("inference-log")
        defer { setup.removeDirectory() }
        let logs = setup.directory.appendingPathComponent("inference-logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try Data("not a directory".utf8).write(to: logs.appendingPathComponent("blocked"))
        let config = setup.directory.appendingPathComponent("desired.yaml").path
        func writeConfig(path: String) throws {
            try """
                repository: \(setup.repository)
                defaults:
                  logging: { samplePercent: 1, path: \(path) }
                workers:
                  - { name: w1, address: 127.0.0.1:\(setup.workerPort), zone: a }
                models:
                  - { name: digits, replicas: 1, hedging: { budgetPercent: 0 } }
                """.write(toFile: config, atomically: true, encoding: .utf8)
        }
        try writeConfig(path: "skew")
        let worker = "127.0.0.1:\(setup.workerPort)"
        let synchronizer = try HedgerowProcess(["synchronizer", "--listen", setup.synchronizer, "--desired", config, "--admin-token-file", setup.tokenFile])
        let w1 = try HedgerowProcess(["worker", "--listen", worker, "--name", "w1", "--repository", setup.repository, "--admin-token-file", setup.tokenFile])
        let router = try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", setup.synchronizer, "--inference-log-dir", logs.path])
        let h2 = H2Client(address: setup.router)
        try #require(await RoleTestSetup.waitForReplicas([worker], via: h2, seconds: 60), "digits never served:\n\(w1.text)")

        func send(_ count: Int, prefix: String) async throws -> [String] {
            try await withThrowingTaskGroup(of: [String].self) { group in
                for lane in 0..<8 {
                    group.addTask {
                        var failures: [String] = []
                        for i in stride(from: lane, to: count, by: 8) {
                            let row = (0..<64).map { Double(($0 + i) % 17) / 16 }
                            let body = try JSONSerialization.data(withJSONObject: ["id": "\(prefix)\(i)", "inputs": [["name": "input", "shape": [1, 64], "datatype": "FP32", "data": row]]])
                            let answer = try await h2.send(.POST, "/v2/models/digits/infer", body: body, headers: ["x-request-id": "\(prefix)\(i)"])
                            if answer.status != 200 { failures.append("\(answer.status) \(answer.text)") }
                        }
                        return failures
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
        }
        let failures = try await send(10_000, prefix: "req-")
        #expect(failures.isEmpty, "\(failures.prefix(3))")

        // The writer flushes within a second.
        let file = logs.appendingPathComponent("skew/digits.jsonl")
        var records: [[String: Any]] = []
        for _ in 0..<50 {
            try await Task.sleep(for: .milliseconds(200))
            let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            records = text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            if records.count >= 70 { try await Task.sleep(for: .milliseconds(1200)); break }
        }
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n")
        records = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        // Binomial(10,000, 0.01): 100 ± 3 × 9.95.
        #expect((70...130).contains(records.count) && records.count == lines.count, "\(records.count) records of \(lines.count) lines")
        for record in records {
            let id = record["requestId"] as? String ?? ""
            let request = (record["request"] as? [String: Any])?["text"] as? String ?? ""
            let response = (record["response"] as? [String: Any])?["text"] as? String ?? ""
            #expect(id.hasPrefix("req-") && request.contains("\"id\":\"\(id)\"") && response.contains("\"id\":\"\(id)\""), "\(record)")
            #expect(record["model"] as? String == "digits" && record["version"] as? Int == 1 && record["api"] as? String == "v2")
            #expect(record["status"] as? Int == 200 && record["replica"] as? String == worker && (record["latencyMs"] as? Double ?? -1) >= 0)
        }
        #expect(Set(records.compactMap { $0["requestId"] as? String }).count == records.count, "each request at most once")

        // A path under a file cannot be created: records are dropped and counted, requests are untouched.
        try writeConfig(path: "blocked/skew")
        try await Task.sleep(for: .seconds(2))
        let blocked = try await send(2_000, prefix: "blocked-")
        #expect(blocked.isEmpty, "\(blocked.prefix(3))")
        var dropped = 0.0
        for _ in 0..<30 where dropped == 0 {
            try await Task.sleep(for: .milliseconds(200))
            let metrics = try await h2.send(.GET, "/metrics").text
            dropped = metrics.split(separator: "\n").first { $0.hasPrefix(#"hedgerow_router_inference_log_dropped_total{model="digits",reason="write_error"}"#) }
                .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
        #expect(dropped >= 5, "dropped \(dropped)")
        #expect(router.text.contains("inference log records dropped (requests are unaffected)"), "\(router.text.suffix(2000))")

        await h2.close()
        for process in [router, w1, synchronizer] { await process.stop() }
    }
}
