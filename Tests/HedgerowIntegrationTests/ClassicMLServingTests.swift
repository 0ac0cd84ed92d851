import Foundation
import Testing

/// The scikit-learn examples (ai.onnx.ml: Scaler + LinearClassifier + Normalizer, TreeEnsembleClassifier,
/// TreeEnsembleRegressor) served through the real router and a real worker: each passes its golden outputs at load
/// (reference.json, onnxruntime's answers), and answers over KServe v2 and TF Serving REST match onnxruntime:
/// labels exactly, scores within 1e-4 relative. A row with too few features is a 400 naming the problem.
@Suite(.serialized) struct ClassicMLServingTests {
    static let names = ["diabetes-gbr", "iris-forest", "iris-logreg"]

    @Test func scikitLearnModelsServeThroughTheRouter() async throws {
        let setup = try RoleTestSetup("classic-ml")
        defer { setup.removeDirectory() }
        let config = setup.directory.appendingPathComponent("desired.yaml").path
        try """
            repository: \(setup.repository)
            workers:
              - { name: w1, address: 127.0.0.1:\(setup.workerPort), zone: a }
            defaults:
              replicas: 1
            models:
            \(Self.names.map { "  - { name: \($0), validation: { required: true } }" }.joined(separator: "\n"))
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let synchronizer = try HedgerowProcess(["synchronizer", "--listen", setup.synchronizer, "--desired", config, "--admin-token-file", setup.tokenFile])
        let worker = try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(setup.workerPort)", "--name", "w1", "--admin-token-file", setup.tokenFile,
                                          "--repository", setup.repository])
        let router = try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", setup.synchronizer])
        let h2 = H2Client(address: setup.router)
        var routed: [String] = []
        for _ in 0..<450 where routed != Self.names {
            let models = (try? await h2.send(.GET, "/v1/routes").json)?["models"] as? [String: [String: Any]] ?? [:]
            routed = models.filter { ($0.value["versions"] as? [String: [String]])?.isEmpty == false }.keys.sorted()
            if routed != Self.names { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(routed == Self.names, "routed \(routed)\n\(worker.text.suffix(3000))")

        for model in routed {
            let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: setup.repository).appendingPathComponent("\(model)/1/reference.json"))) as? [String: Any]
            let rows = try #require((reference?["inputs"] as? [String: Any])?["input"] as? [[Double]])
            let want = try #require(reference?["outputs"] as? [String: Any])
            // KServe v2: every output by name.
            let body = try JSONSerialization.data(withJSONObject: ["inputs": [["name": "input", "shape": [rows.count, rows[0].count], "datatype": "FP32", "data": rows.flatMap { $0 }]]])
            let answer = try await h2.send(.POST, "/v2/models/\(model)/infer", body: body)
            #expect(answer.status == 200, "\(model): \(answer.text.prefix(300))")
            let outputs = (answer.json?["outputs"] as? [[String: Any]]) ?? []
            for (name, expected) in want {
                let got = outputs.first { $0["name"] as? String == name }
                let (w, _) = ExampleModelsServingTests.flatten(expected)
                let (g, _) = ExampleModelsServingTests.flatten(got?["data"] ?? [])
                #expect(g.count == w.count, "\(model) \(name): \(g.count) values, onnxruntime \(w.count)")
                if name == "label" {
                    #expect(got?["datatype"] as? String == "INT64" && g == w, "\(model) labels \(g.prefix(8)) against \(w.prefix(8))")
                } else {
                    let bad = zip(g, w).first { abs($0 - $1) > 1e-4 * abs($1) + 1e-5 }
                    #expect(bad == nil, "\(model) \(name): \(String(describing: bad))")
                }
            }
            // TF Serving REST, row format: the same numbers.
            let tfs = try await h2.send(.POST, "/v1/models/\(model):predict", body: JSONSerialization.data(withJSONObject: ["instances": Array(rows.prefix(4))]))
            #expect(tfs.status == 200, "\(model) TF Serving: \(tfs.text.prefix(300))")
            // Too few features per row: a 400 that says so, through the router.
            let narrow = try JSONSerialization.data(withJSONObject: ["inputs": [["name": "input", "shape": [1, 1], "datatype": "FP32", "data": [0.5]]]])
            let refused = try await h2.send(.POST, "/v2/models/\(model)/infer", body: narrow)
            #expect(refused.status == 400 && refused.text.contains("input"), "\(model): \(refused.status) \(refused.text.prefix(300))")
        }
        await h2.close()
        for process in [router, worker, synchronizer] { await process.stop() }
    }
}
