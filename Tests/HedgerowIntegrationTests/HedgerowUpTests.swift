import Foundation
import Testing

/// Starts `hedgerow up` (the real binary) on free loopback ports and uses it as a client would: the whole digits
/// test set over HTTP/2 and HTTP/1.1 in both API styles, bad requests, a model moved by editing the YAML, an
/// invalid edit refused, and a clean stop.
@Suite(.serialized) struct HedgerowUpTests {
    struct TestSet {
        var inputs: [[Double]]
        var labels: [Int]
        var reference: [[Double]]

        static func load() throws -> TestSet {
            let root = HedgerowProcess.repositoryRoot.appendingPathComponent("Models/digits")
            let set = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("testset.json"))) as! [String: Any]
            let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("1/reference.json"))) as! [String: Any]
            return TestSet(inputs: set["inputs"] as! [[Double]], labels: set["labels"] as! [Int], reference: (reference["outputs"] as! [String: Any])["probabilities"] as! [[Double]])
        }
    }

    /// Checks one answer's probabilities against onnxruntime's and returns whether the argmax is the label.
    static func check(_ probabilities: [Double], row: Int, _ set: TestSet) -> Bool {
        let difference = zip(probabilities, set.reference[row]).map { abs($0 - $1) }.max() ?? 1
        #expect(probabilities.count == 10 && difference < 1e-5, "row \(row): differs from onnxruntime by \(difference)")
        return probabilities.indices.max { probabilities[$0] < probabilities[$1] } == set.labels[row]
    }

    static func json(_ object: Any) -> Data { try! JSONSerialization.data(withJSONObject: object) }

    @Test func upServesTheDigitsModelEndToEnd() async throws {
        let set = try TestSet.load()
        #expect(set.inputs.count >= 300)
        let workDir = FileManager.default.temporaryDirectory.appendingPathComponent("hedgerow-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: workDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: workDir) }
        let config = workDir.appendingPathComponent("desired-state.yaml")
        let repository = HedgerowProcess.repositoryRoot.appendingPathComponent("Models").path
        func writeConfig(_ modelLines: String) throws {
            try """
                repository: \(repository)
                defaults:
                  replicas: 2
                  hedging: { percentile: 95, budgetPercent: 5, minDelayMs: 1, maxDelayMs: 200 }
                models:
                  - name: digits
                    versions: { latest: 1 }
                    labels: { stable: 1 }
                \(modelLines)
                """.write(to: config, atomically: true, encoding: .utf8)
        }
        try writeConfig("    replicas: 2")

        let routerPort = FreePorts.consecutive(1)
        let syncPort = FreePorts.consecutive(1, avoiding: [routerPort])
        let workerBase = FreePorts.consecutive(2, avoiding: [routerPort, syncPort])
        let up = try HedgerowProcess([
            "up", "--config", config.path, "--workers", "2", "--router-port", "\(routerPort)",
            "--sync-port", "\(syncPort)", "--worker-base-port", "\(workerBase)",
        ])
        let ready = await up.waitForOutput("Hedgerow is up.", timeout: .seconds(120))
        try #require(ready, "hedgerow up did not become ready:\n\(up.text)")
        #expect(up.text.contains("digits v1: 2/2 replicas"))

        let router = "127.0.0.1:\(routerPort)"
        let h2 = H2Client(address: router)
        let h1 = H1Client(base: "http://\(router)")

        // The whole test set, four ways, eight requests in flight at a time.
        var correct = [String: Int]()
        for style in ["h2-tf-rows", "h2-v2", "h1-tf-columns", "h1-v2"] {
            var hits = 0
            for chunk in stride(from: 0, to: set.inputs.count, by: 8) {
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for row in chunk..<min(chunk + 8, set.inputs.count) {
                        group.addTask {
                            let input = set.inputs[row]
                            let probabilities: [Double]
                            switch style {
                            case "h2-tf-rows":
                                let a = try await h2.send(.POST, "/v1/models/digits:predict", body: Self.json(["instances": [input]]))
                                try #require(a.status == 200, "\(a.text)")
                                probabilities = (a.json?["predictions"] as! [[Double]])[0]
                            case "h1-tf-columns":
                                let a = try await h1.send("POST", "/v1/models/digits/labels/stable:predict", body: Self.json(["inputs": ["input": [input]]]))
                                try #require(a.status == 200, "\(a.text)")
                                probabilities = (a.json?["outputs"] as! [[Double]])[0]
                            default:
                                let body = Self.json(["id": "row\(row)", "inputs": [["name": "input", "shape": [1, 64], "datatype": "FP32", "data": input]]])
                                let a = style == "h2-v2"
                                    ? try await h2.send(.POST, "/v2/models/digits/infer", body: body)
                                    : try await h1.send("POST", "/v2/models/digits/versions/1/infer", body: body)
                                try #require(a.status == 200, "\(a.text)")
                                #expect(a.json?["model_version"] as? String == "1")
                                #expect(a.json?["id"] as? String == "row\(row)")
                                let output = (a.json?["outputs"] as! [[String: Any]])[0]
                                #expect(output["shape"] as? [Int] == [1, 10])
                                probabilities = output["data"] as! [Double]
                            }
                            return Self.check(probabilities, row: row, set)
                        }
                    }
                    for try await hit in group where hit { hits += 1 }
                }
            }
            correct[style] = hits
        }
        for (style, hits) in correct {
            let accuracy = Double(hits) / Double(set.inputs.count)
            #expect(accuracy >= 0.95, "\(style): accuracy \(accuracy)")
            print("integration: \(style) accuracy \(accuracy) over \(set.inputs.count) rows")
        }

        // Bad requests get the codes of the contract and say what is wrong.
        let row = set.inputs[0]
        let bad: [(Answer, Int, String)] = [
            (try await h2.send(.POST, "/v1/models/digits:predict", body: Data("{not json".utf8)), 400, "malformed JSON"),
            (try await h2.send(.POST, "/v1/models/digits:predict", body: Self.json(["instances": [Array(row.prefix(10))]])), 400, "input 'input': expected shape [N, 64], got [1, 10]"),
            (try await h2.send(.POST, "/v2/models/digits/infer", body: Self.json(["inputs": [["name": "input", "shape": [1, 64], "datatype": "INT64", "data": row.map { Int($0) }]]])), 400, "expected datatype FP32, got INT64"),
            (try await h2.send(.POST, "/v1/models/nothere:predict", body: Self.json(["instances": [row]])), 404, "model 'nothere' is not served here"),
            (try await h2.send(.POST, "/v1/models/digits/versions/9:predict", body: Self.json(["instances": [row]])), 404, "has no version 9"),
            (try await h1.send("POST", "/v1/models/digits/labels/nope:predict", body: Self.json(["instances": [row]])), 404, "has no label 'nope'"),
            (try await h2.send(.POST, "/v1/models/digits:predict", body: Data(count: 17 * 1024 * 1024)), 413, "over the limit"),
            (try await h2.send(.GET, "/v1/models/digits:predict"), 405, "not allowed"),
        ]
        for (answer, status, message) in bad {
            #expect(answer.status == status, "\(answer.text)")
            #expect((answer.json?["error"] as? String)?.contains(message) == true, "expected '\(message)' in \(answer.text)")
        }
        // Nothing crashed: the router still serves.
        #expect(try await h2.send(.GET, "/v2/health/ready").status == 200)

        // The summary names the live page; the page and its data come from the router itself.
        #expect(up.text.contains("dashboard     http://127.0.0.1:\(routerPort)/dashboard"), "\(up.text)")
        let page = try await h1.send("GET", "/dashboard")
        #expect(page.status == 200 && page.text.contains("fetch(\"/dashboard/data\"") && !page.text.contains("src=\"http"), "\(page.text.prefix(300))")
        try await Task.sleep(for: .milliseconds(1100))  // the data holds finished seconds only
        let data = try await h2.send(.GET, "/dashboard/data")
        #expect(data.status == 200)
        let models = data.json?["models"] as? [[String: Any]] ?? []
        let digits = models.first { $0["name"] as? String == "digits" }
        let series = digits?["series"] as? [String: Any]
        let requests = (series?["requests"] as? [Int]) ?? []
        #expect(requests.count == 300 && requests.reduce(0, +) >= set.inputs.count * 4, "\(requests.reduce(0, +)) requests in the history")
        #expect(((series?["clientErrors"] as? [Int]) ?? []).reduce(0, +) == 5, "the bad requests above that reach the model are 4xx")
        #expect(((series?["p99Ms"] as? [Any]) ?? []).contains { ($0 as? Double) != nil }, "no latency point")
        let dashboardReplicas = (data.json?["replicas"] as? [[String: Any]] ?? []).compactMap { r -> String? in
            r["state"] as? String == "ok" ? r["address"] as? String : nil
        }
        #expect(dashboardReplicas == ["127.0.0.1:\(workerBase)", "127.0.0.1:\(workerBase + 1)"], "\(data.text.suffix(600))")
        #expect(try await h2.send(.POST, "/dashboard/data").status == 405)

        // Move the model: pin it to w2 only, and watch the routes change.
        let workerTwo = "127.0.0.1:\(workerBase + 1)"
        try writeConfig("    replicas: 1\n    placement: { workers: [w2] }")
        var replicas: [String] = []
        let moveDeadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < moveDeadline {
            let routes = try await h2.send(.GET, "/v1/routes").json
            replicas = ((routes?["models"] as? [String: Any])?["digits"] as? [String: Any]).flatMap { ($0["versions"] as? [String: [String]])?["1"] } ?? []
            if replicas == [workerTwo] { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(replicas == [workerTwo], "routes did not move to w2")
        let afterMove = try await h2.send(.POST, "/v1/models/digits:predict", body: Self.json(["instances": [row]]))
        #expect(afterMove.status == 200)

        // An invalid edit is refused with file:line, and the model keeps serving where it is.
        try "repository: \(repository)\nmodels:\n  - name: digits\n    replicas: 0\n".write(to: config, atomically: true, encoding: .utf8)
        let status = try HedgerowProcess(["status", "--synchronizer", "127.0.0.1:\(syncPort)"])
        var refused = false
        for _ in 0..<50 {
            let s = try HedgerowProcess(["status", "--synchronizer", "127.0.0.1:\(syncPort)"])
            s.process.waitUntilExit()
            try await Task.sleep(for: .milliseconds(100))
            if s.text.contains("REFUSED") {
                #expect(s.text.contains("desired-state.yaml:4:15: models[0].replicas: must be ≥ 1, got 0"), "\(s.text)")
                refused = true
                break
            }
        }
        status.process.waitUntilExit()
        #expect(refused)
        #expect(try await h2.send(.POST, "/v1/models/digits:predict", body: Self.json(["instances": [row]])).status == 200)

        await h2.close()
        // Stop everything: up exits by itself and no child is left listening.
        let stoppedCleanly = await up.stop()
        #expect(stoppedCleanly, "hedgerow up did not stop within the grace period:\n\(up.text)")
        #expect(up.text.contains("stopped"))
        for port in [routerPort, syncPort, workerBase, workerBase + 1] {
            var listening = true
            for _ in 0..<50 where listening {
                listening = FreePorts.isListening(port)
                if listening { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(!listening, "something still listens on port \(port) after stop")
        }
    }
}
