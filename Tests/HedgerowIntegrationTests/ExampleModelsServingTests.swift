import Foundation
import Testing

/// The four example models served through the real router and a real worker, over KServe v2 and TF Serving REST,
/// with answers matching onnxruntime's reference outputs; batching set from the desired state and from a version's
/// config.yaml; concurrent requests merged into batches; bad ids a 400 through the router.
@Suite(.serialized) struct ExampleModelsServingTests {
    static let models = HedgerowProcess.repositoryRoot.appendingPathComponent("Models")

    func reference(_ model: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: Self.models.appendingPathComponent("\(model)/1/reference.json"))) as! [String: Any]
    }

    static func flatten(_ value: Any) -> (values: [Double], shape: [Int]) {
        if let list = value as? [Any] {
            var values: [Double] = [], inner: [Int] = []
            for element in list {
                let (v, s) = flatten(element)
                values += v
                inner = s
            }
            return (values, [list.count] + inner)
        }
        return ([(value as? NSNumber)?.doubleValue ?? .nan], [])
    }

    /// Compares an answer's values with onnxruntime's within 1e-4 relative (1e-6 absolute near 0).
    func expectClose(_ got: Any?, _ want: Any, _ what: String) {
        let (g, _) = Self.flatten(got ?? [])
        let (w, _) = Self.flatten(want)
        #expect(g.count == w.count, "\(what): \(g.count) values, onnxruntime \(w.count)")
        let worst = zip(g, w).map { abs($0 - $1) / (abs($1) + 1e-2) }.max() ?? 0
        let bad = zip(g, w).first { abs($0 - $1) > 1e-4 * abs($1) + 1e-6 }
        #expect(bad == nil, "\(what): \(bad.map { "\($0.0) vs onnxruntime \($0.1)" } ?? ""), worst relative \(worst)")
    }

    func v2Input(_ name: String, _ value: Any, datatype: String) -> [String: Any] {
        let (values, shape) = Self.flatten(value)
        return ["name": name, "shape": shape, "datatype": datatype, "data": datatype == "INT64" ? values.map { Int($0) } as [Any] : values as [Any]]
    }

    @Test func everyExampleModelServesThroughTheRouter() async throws {
        let setup = try RoleTestSetup("examples")
        defer { setup.removeDirectory() }
        // A repository of our own, so a config.yaml can be written next to one model.
        let repository = setup.directory.appendingPathComponent("Models")
        try FileManager.default.createDirectory(at: repository, withIntermediateDirectories: true)
        for model in ["digits", "digits-cnn", "recommender", "encoder"] {
            try FileManager.default.copyItem(at: Self.models.appendingPathComponent(model), to: repository.appendingPathComponent(model))
        }
        try "batching: { maxBatchSize: 4, maxDelayMicros: 300 }\n".write(
            to: repository.appendingPathComponent("digits-cnn/1/config.yaml"), atomically: true, encoding: .utf8)
        let config = setup.directory.appendingPathComponent("desired.yaml").path
        try """
            repository: \(repository.path)
            workers:
              - { name: w1, address: 127.0.0.1:\(setup.workerPort), zone: a, memoryMB: 4096 }
            defaults:
              replicas: 1
              hedging: { budgetPercent: 0 }
            models:
              - { name: digits }
              - { name: digits-cnn }
              - { name: encoder }
              - name: recommender
                batching: { maxBatchSize: 64, maxDelayMicros: 20000 }
            """.write(toFile: config, atomically: true, encoding: .utf8)

        let synchronizer = try HedgerowProcess(["synchronizer", "--listen", setup.synchronizer, "--desired", config, "--admin-token-file", setup.tokenFile])
        let worker = try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(setup.workerPort)", "--name", "w1", "--admin-token-file", setup.tokenFile,
                                          "--repository", repository.path])
        let router = try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", setup.synchronizer])
        let h2 = H2Client(address: setup.router)
        let admin = H2Client(address: "127.0.0.1:\(setup.workerPort)")
        defer {
            Task { await h2.close(); await admin.close() }
        }
        var routed: [String] = []
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            let routes = try? await h2.send(.GET, "/v1/routes").json
            // A model counts as routed once it has replicas (a desired model is listed, empty, until then).
            let models = routes?["models"] as? [String: [String: Any]] ?? [:]
            routed = models.filter { ($0.value["versions"] as? [String: [String]])?.isEmpty == false }.keys.sorted()
            if routed == ["digits", "digits-cnn", "encoder", "recommender"] { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        try #require(routed == ["digits", "digits-cnn", "encoder", "recommender"], "routed \(routed)\n\(synchronizer.text.suffix(3000))\n\(worker.text.suffix(3000))")

        // digits (MLP), TF Serving REST: the first 8 held-out rows.
        let testset = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.models.appendingPathComponent("digits/testset.json"))) as! [String: Any]
        let rows = Array((testset["inputs"] as! [[Double]]).prefix(8))
        var answer = try await h2.send(.POST, "/v1/models/digits:predict", body: JSONSerialization.data(withJSONObject: ["instances": rows]))
        #expect(answer.status == 200, "\(answer.text)")
        expectClose(answer.json?["predictions"], Array(((try reference("digits")["outputs"] as! [String: Any])["probabilities"] as! [Any]).prefix(8)), "digits")

        // digits-cnn, KServe v2 and TF Serving REST.
        let cnn = try reference("digits-cnn")
        let images = (cnn["inputs"] as! [String: Any])["images"]!
        let cnnWant = (cnn["outputs"] as! [String: Any])["probabilities"]!
        answer = try await h2.send(.POST, "/v2/models/digits-cnn/infer", body: JSONSerialization.data(withJSONObject: ["inputs": [v2Input("images", images, datatype: "FP32")]]))
        #expect(answer.status == 200, "\(answer.text)")
        expectClose((answer.json?["outputs"] as? [[String: Any]])?.first?["data"], cnnWant, "digits-cnn (KServe v2)")
        answer = try await h2.send(.POST, "/v1/models/digits-cnn:predict", body: JSONSerialization.data(withJSONObject: ["instances": images]))
        expectClose(answer.json?["predictions"], cnnWant, "digits-cnn (TF Serving)")

        // encoder, KServe v2.
        let encoder = try reference("encoder")
        answer = try await h2.send(.POST, "/v2/models/encoder/infer", body: JSONSerialization.data(withJSONObject: [
            "inputs": [v2Input("tokens", (encoder["inputs"] as! [String: Any])["tokens"]!, datatype: "FP32")],
        ]))
        #expect(answer.status == 200, "\(answer.text.prefix(300))")
        expectClose((answer.json?["outputs"] as? [[String: Any]])?.first?["data"], (encoder["outputs"] as! [String: Any])["encoded"]!, "encoder")

        // recommender, KServe v2 with two INT64 inputs; then one request per id pair, all at once: they are merged.
        let recommender = try reference("recommender")
        let ids = recommender["inputs"] as! [String: Any]
        answer = try await h2.send(.POST, "/v2/models/recommender/infer", body: JSONSerialization.data(withJSONObject: [
            "inputs": [v2Input("user", ids["user"]!, datatype: "INT64"), v2Input("item", ids["item"]!, datatype: "INT64")],
        ]))
        #expect(answer.status == 200, "\(answer.text)")
        let scores = (recommender["outputs"] as! [String: Any])["score"] as! [[Double]]
        expectClose((answer.json?["outputs"] as? [[String: Any]])?.first?["data"], scores, "recommender")
        let users = ids["user"] as! [Int], items = ids["item"] as! [Int]
        let single = try await withThrowingTaskGroup(of: (Int, Answer).self) { group in
            for i in users.indices {
                group.addTask {
                    let body = try JSONSerialization.data(withJSONObject: ["inputs": [
                        ["name": "user", "shape": [1], "datatype": "INT64", "data": [users[i]]],
                        ["name": "item", "shape": [1], "datatype": "INT64", "data": [items[i]]],
                    ]])
                    return (i, try await h2.send(.POST, "/v2/models/recommender/infer", body: body))
                }
            }
            return try await group.reduce(into: [Int: Answer]()) { $0[$1.0] = $1.1 }
        }
        for (i, answer) in single.sorted(by: { $0.key < $1.key }) {
            #expect(answer.status == 200)
            expectClose((answer.json?["outputs"] as? [[String: Any]])?.first?["data"], scores[i], "recommender row \(i) alone")
        }
        let metrics = try await admin.send(.GET, "/metrics").text
        let runs = metrics.split(separator: "\n").first { $0.hasPrefix("hedgerow_worker_batch_size_count{model=\"recommender\"}") }
        let runCount = runs.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        // 1 run for the 16-row request, and fewer than 16 for the 16 single-row ones.
        #expect(runCount >= 2 && runCount < 17, "recommender runs: \(runs ?? "none")")

        // Out-of-range ids: a 400 naming the node, through the router.
        answer = try await h2.send(.POST, "/v2/models/recommender/infer", body: JSONSerialization.data(withJSONObject: ["inputs": [
            ["name": "user", "shape": [1], "datatype": "INT64", "data": [100_000]],
            ["name": "item", "shape": [1], "datatype": "INT64", "data": [0]],
        ]]))
        #expect(answer.status == 400)
        #expect(answer.text.contains("index 100000 is out of range"), "\(answer.text)")

        // The batching in force: the desired state's for the recommender, config.yaml's for the CNN.
        let state = try await admin.send(.GET, "/admin/state", headers: ["authorization": "Bearer \(setup.token)"]).json
        let versions = Dictionary(((state?["models"] as? [[String: Any]]) ?? []).map { ($0["model"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        #expect((versions["recommender"]?["batching"] as? [String: Int]) == ["maxBatchSize": 64, "maxDelayMicros": 20000])
        #expect((versions["digits-cnn"]?["batching"] as? [String: Int]) == ["maxBatchSize": 4, "maxDelayMicros": 300])
        #expect((versions["digits"]?["batching"] as? [String: Int]) == ["maxBatchSize": 32, "maxDelayMicros": 0])

        for process in [router, worker, synchronizer] { _ = await process.stop() }
    }
}
