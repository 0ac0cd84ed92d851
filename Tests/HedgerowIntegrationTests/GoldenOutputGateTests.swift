import Foundation
import Testing

/// The golden-output gate with real processes: a new version whose reference.json one value contradicts is FAILED
/// on the worker, never enters the routes, is shown with the offending element, and the old version keeps serving.
@Suite(.serialized) struct GoldenOutputGateTests {
    @Test func aVersionThatAnswersWronglyNeverServes() async throws {
        let setup = try RoleTestSetup("golden")
        defer { setup.removeDirectory() }
        let files = FileManager.default
        let repository = setup.directory.appendingPathComponent("Models")
        let digits = repository.appendingPathComponent("digits")
        try files.createDirectory(at: digits, withIntermediateDirectories: true)
        try files.copyItem(at: URL(fileURLWithPath: setup.repository).appendingPathComponent("digits/1"), to: digits.appendingPathComponent("1"))
        let config = setup.directory.appendingPathComponent("desired.yaml").path
        try "repository: \(repository.path)\nmodels:\n  - { name: digits, versions: { latest: 1 }, replicas: 1 }\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let worker = "127.0.0.1:\(setup.workerPort)"

        let synchronizer = try HedgerowProcess(["synchronizer", "--listen", setup.synchronizer, "--desired", config, "--admin-token-file", setup.tokenFile])
        let w1 = try HedgerowProcess(["worker", "--listen", worker, "--name", "w1", "--repository", repository.path,
                                      "--synchronizer", setup.synchronizer, "--admin-token-file", setup.tokenFile])
        let router = try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", setup.synchronizer])
        let h2 = H2Client(address: setup.router)
        try #require(await RoleTestSetup.waitForReplicas([worker], via: h2, seconds: 60), "v1 never served:\n\(w1.text)")

        // v2: the same model, but its reference says probabilities[3][7] is 0.71. Written aside, then renamed in.
        let incoming = digits.appendingPathComponent(".incoming")
        try files.copyItem(at: digits.appendingPathComponent("1"), to: incoming)
        let referenceFile = incoming.appendingPathComponent("reference.json")
        var reference = try JSONSerialization.jsonObject(with: Data(contentsOf: referenceFile)) as! [String: Any]
        var outputs = reference["outputs"] as! [String: Any]
        var probabilities = outputs["probabilities"] as! [[Double]]
        probabilities[3][7] = 0.71
        outputs["probabilities"] = probabilities
        reference["outputs"] = outputs
        try JSONSerialization.data(withJSONObject: reference).write(to: referenceFile)
        try files.moveItem(at: incoming, to: digits.appendingPathComponent("2"))

        let sync = H2Client(address: setup.synchronizer)
        var error: String?
        for _ in 0..<300 where error == nil {
            let versions = try await sync.send(.GET, "/v1/state").json?["versions"] as? [[String: Any]] ?? []
            let v2 = versions.first { $0["version"] as? Int == 2 }
            error = (v2?["replicas"] as? [[String: Any]])?.compactMap { $0["error"] as? String }.first
            if error == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let message = try #require(error, "v2 never reported FAILED:\n\(w1.text)")
        #expect(message.contains("golden-output check failed (reference.json, batch of 360): probabilities[3][7]: got "), "\(message)")
        #expect(message.contains(", want 0.71 (tolerance 0.00081)"), "\(message)")

        // The old version keeps serving; v2 is not in the routes.
        let routes = try await h2.send(.GET, "/v1/routes").json
        let versions = ((routes?["models"] as? [String: Any])?["digits"] as? [String: Any])?["versions"] as? [String: [String]]
        #expect(versions == ["1": [worker]], "\(String(describing: versions))")
        let body = try JSONSerialization.data(withJSONObject: ["inputs": [["name": "input", "shape": [1, 64], "datatype": "FP32", "data": [Double](repeating: 0.25, count: 64)]]])
        let answer = try await h2.send(.POST, "/v2/models/digits/infer", body: body)
        #expect(answer.status == 200 && answer.json?["model_version"] as? String == "1", "\(answer.text)")

        let metrics = try await H2Client(address: worker).send(.GET, "/metrics").text
        #expect(metrics.contains(#"hedgerow_worker_validation_total{model="digits",version="1",result="passed"} 1"#), "\(metrics.split(separator: "\n").filter { $0.contains("validation") })")
        #expect(metrics.contains(#"hedgerow_worker_validation_total{model="digits",version="2",result="failed"}"#))

        await sync.close()
        await h2.close()
        for process in [router, w1, synchronizer] { await process.stop() }
    }
}
