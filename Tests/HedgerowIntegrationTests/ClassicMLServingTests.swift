import Foundation
import Testing

/// The classic-ML examples (scikit-learn through skl2onnx, XGBoost and LightGBM through onnxmltools) served through
/// the real router and a real worker: each passes its golden outputs at load (reference.json, onnxruntime's
/// answers), and answers over KServe v2 and TF Serving REST match onnxruntime: labels exactly (INT64, or BYTES
/// for string classes), scores within 1e-4 relative. churn-pipeline takes BYTES columns and answers ZipMap's maps:
/// JSON objects per row in TF Serving, the FP32 tensor with `parameters.class_labels` in KServe v2. A row with too
/// few features, or a number where a category goes, is a 400 naming the problem.
@Suite(.serialized) struct ClassicMLServingTests {
    static let names = ["cancer-lightgbm", "churn-pipeline", "diabetes-gbr", "iris-forest", "iris-logreg", "iris-xgboost"]

    /// Elements of a nested JSON list (numbers or strings) in row-major order, and its shape.
    static func flatten(_ value: Any) -> (values: [Any], shape: [Int]) {
        guard let list = value as? [Any] else { return ([value], []) }
        var values: [Any] = [], inner: [Int] = []
        for element in list {
            let (v, s) = flatten(element)
            values += v
            inner = s
        }
        return (values, [list.count] + inner)
    }

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
            let rows = try #require(reference?["inputs"] as? [String: Any])
            let want = try #require(reference?["outputs"] as? [String: Any])
            let metadata = try await h2.send(.GET, "/v2/models/\(model)").json
            let declared = try #require(metadata?["inputs"] as? [[String: Any]], "\(model) metadata")
            // KServe v2: every input with its declared datatype, every output by name.
            var inputs: [[String: Any]] = []
            for input in declared {
                let name = try #require(input["name"] as? String)
                let (data, shape) = Self.flatten(try #require(rows[name]))
                inputs.append(["name": name, "shape": shape, "datatype": input["datatype"] ?? "", "data": data])
            }
            let answer = try await h2.send(.POST, "/v2/models/\(model)/infer", body: try JSONSerialization.data(withJSONObject: ["inputs": inputs]))
            #expect(answer.status == 200, "\(model): \(answer.text.prefix(300))")
            let outputs = (answer.json?["outputs"] as? [[String: Any]]) ?? []
            for (name, expected) in want {
                let got = outputs.first { $0["name"] as? String == name }
                if let labels = expected as? [String] {
                    #expect(got?["datatype"] as? String == "BYTES" && got?["data"] as? [String] == labels, "\(model) \(name): \(String(describing: got).prefix(300))")
                    continue
                }
                let (w, _) = ExampleModelsServingTests.flatten(expected)
                let (g, _) = ExampleModelsServingTests.flatten(got?["data"] ?? [])
                #expect(g.count == w.count, "\(model) \(name): \(g.count) values, onnxruntime \(w.count)")
                if name.contains("label") {
                    #expect(got?["datatype"] as? String == "INT64" && g == w, "\(model) labels \(g.prefix(8)) against \(w.prefix(8))")
                } else {
                    let bad = zip(g, w).first { abs($0 - $1) > 1e-4 * abs($1) + 1e-5 }
                    #expect(bad == nil, "\(model) \(name): \(String(describing: bad))")
                }
            }
            if model == "churn-pipeline" {
                let probabilities = outputs.first { $0["name"] as? String == "output_probability" }
                #expect((probabilities?["parameters"] as? [String: Any])?["class_labels"] as? String == #"["churn","stay"]"#)
                try await checkChurnOverTFServing(h2, rows: rows, want: want)
                continue
            }
            // TF Serving REST, row format: the same numbers.
            let single = try #require(rows["input"] as? [Any])
            let tfs = try await h2.send(.POST, "/v1/models/\(model):predict", body: JSONSerialization.data(withJSONObject: ["instances": Array(single.prefix(4))]))
            #expect(tfs.status == 200, "\(model) TF Serving: \(tfs.text.prefix(300))")
            // Too few features per row: a 400 that says so, through the router.
            let narrow = try JSONSerialization.data(withJSONObject: ["inputs": [["name": "input", "shape": [1, 1], "datatype": "FP32", "data": [0.5]]]])
            let refused = try await h2.send(.POST, "/v2/models/\(model)/infer", body: narrow)
            #expect(refused.status == 400 && refused.text.contains("input"), "\(model): \(refused.status) \(refused.text.prefix(300))")
        }
        await h2.close()
        for process in [router, worker, synchronizer] { await process.stop() }
    }

    /// Named instances with string categories; each prediction holds the label as a JSON string and the
    /// probabilities as an object keyed by class label.
    func checkChurnOverTFServing(_ h2: H2Client, rows: [String: Any], want: [String: Any]) async throws {
        let columns = ["plan", "region", "tenure", "monthly"]
        let table = try columns.map { try #require(rows[$0] as? [[Any]]) }
        let instances = (0..<3).map { r in Dictionary(uniqueKeysWithValues: zip(columns, table.map { $0[r] })) }
        let tfs = try await h2.send(.POST, "/v1/models/churn-pipeline:predict", body: JSONSerialization.data(withJSONObject: ["instances": instances]))
        #expect(tfs.status == 200, "churn TF Serving: \(tfs.text.prefix(300))")
        let predictions = (tfs.json?["predictions"] as? [[String: Any]]) ?? []
        let labels = try #require(want["output_label"] as? [String])
        let probabilities = try #require(want["output_probability"] as? [[Double]])
        #expect(predictions.count == 3)
        for (r, prediction) in predictions.enumerated() {
            #expect(prediction["output_label"] as? String == labels[r], "row \(r): \(prediction)")
            let map = prediction["output_probability"] as? [String: Double] ?? [:]
            #expect(map.keys.sorted() == ["churn", "stay"], "row \(r): \(prediction)")
            #expect(abs((map["churn"] ?? -1) - probabilities[r][0]) <= 1e-5 && abs((map["stay"] ?? -1) - probabilities[r][1]) <= 1e-5, "row \(r): \(map)")
        }
        // A number where a category goes: a 400 naming the input.
        var wrong = instances[0]
        wrong["plan"] = [3]
        let refused = try await h2.send(.POST, "/v1/models/churn-pipeline:predict", body: JSONSerialization.data(withJSONObject: ["instances": [wrong]]))
        #expect(refused.status == 400 && refused.text.contains("input 'plan': expected strings (BYTES), found a number"), "\(refused.status) \(refused.text.prefix(300))")
    }
}
