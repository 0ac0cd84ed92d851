import Foundation
import HedgerowCore
import Testing

/// A canary split with real processes: digits v1 (stable) and v2 on one worker, `splitPercent: 30`. Requests that
/// name no version go to v2 exactly when the hash of their request id says so (about 30 % of 1,000), the same id
/// always to the same version, requests naming a version or the stable label where they say; without the canary,
/// unnamed requests go to the stable label's version, not to the newest.
@Suite(.serialized) struct CanarySplitIntegrationTests {
    @Test func thirtyPercentOfRequestIdsGoToTheCanary() async throws {
        let setup = try RoleTestSetup("canary")
        defer { setup.removeDirectory() }
        let files = FileManager.default
        let digits = setup.directory.appendingPathComponent("Models/digits")
        try files.createDirectory(at: digits, withIntermediateDirectories: true)
        for version in ["1", "2"] {
            try files.copyItem(at: URL(fileURLWithPath: setup.repository).appendingPathComponent("digits/1"), to: digits.appendingPathComponent(version))
        }
        let config = setup.directory.appendingPathComponent("desired.yaml").path
        func writeConfig(canary: String) throws {
            try """
                repository: \(digits.deletingLastPathComponent().path)
                workers:
                  - { name: w1, address: 127.0.0.1:\(setup.workerPort), zone: a }
                models:
                  - name: digits
                    versions: { specific: [1, 2] }
                    labels: { stable: 1 }
                    replicas: 1
                \(canary)
                """.write(toFile: config, atomically: true, encoding: .utf8)
        }
        try writeConfig(canary: "    canary: { version: 2, splitPercent: 30 }")
        let worker = "127.0.0.1:\(setup.workerPort)"
        let synchronizer = try HedgerowProcess(["synchronizer", "--listen", setup.synchronizer, "--desired", config, "--admin-token-file", setup.tokenFile])
        let w1 = try HedgerowProcess(["worker", "--listen", worker, "--name", "w1", "--repository", digits.deletingLastPathComponent().path, "--admin-token-file", setup.tokenFile])
        let router = try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", setup.synchronizer])
        let h2 = H2Client(address: setup.router)
        func routedVersions() async -> Set<String> {
            let routes = try? await h2.send(.GET, "/v1/routes").json
            return Set((((routes?["models"] as? [String: Any])?["digits"] as? [String: Any])?["versions"] as? [String: Any])?.keys ?? [:].keys)
        }
        var versions: Set<String> = []
        for _ in 0..<600 where versions != ["1", "2"] {
            versions = await routedVersions()
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(versions == ["1", "2"], "both versions never routed:\n\(w1.text)")

        let body = try JSONSerialization.data(withJSONObject: ["inputs": [["name": "input", "shape": [1, 64], "datatype": "FP32", "data": [Double](repeating: 0.5, count: 64)]]])
        func answeredBy(_ path: String, id: String) async throws -> String {
            let answer = try await h2.send(.POST, path, body: body, headers: ["x-request-id": id])
            return answer.status == 200 ? (answer.json?["model_version"] as? String ?? "?") : "status \(answer.status)"
        }
        let canary = try CanaryPolicy(version: 2, splitPercent: 30)
        var mismatches: [String] = [], toCanary = 0
        for i in 0..<1_000 {
            let id = "client-\(i)"
            let got = try await answeredBy("/v2/models/digits/infer", id: id)
            let want = canary.takes(requestId: id) ? "2" : "1"
            if got == "2" { toCanary += 1 }
            if got != want { mismatches.append("\(id): \(got), want \(want)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
        // Binomial(1,000, 0.3): 300 ± 3 × 14.5.
        #expect((257...343).contains(toCanary), "\(toCanary) of 1,000 to the canary")
        // The same id lands on the same version every time; a version or a label in the URL is obeyed.
        let sticky = Set(try await (0..<20).asyncMap { _ in try await answeredBy("/v2/models/digits/infer", id: "client-7") })
        #expect(sticky.count == 1, "\(sticky)")
        for i in 0..<50 {
            #expect(try await answeredBy("/v2/models/digits/versions/1/infer", id: "client-\(i)") == "1")
        }
        let metrics = try await h2.send(.GET, "/metrics").text
        #expect(metrics.contains("hedgerow_router_canary_split_requests_total{model=\"digits\",version=\"2\"} \(toCanary + (sticky == ["2"] ? 20 : 0))"),
                "\(metrics.split(separator: "\n").filter { $0.contains("canary") })")

        // Without the canary, requests naming no version go to the stable label's version, not to the newest.
        try writeConfig(canary: "")
        var allStable = false
        for _ in 0..<100 where !allStable {
            try await Task.sleep(for: .milliseconds(200))
            let answers = try await (0..<20).asyncMap { i in try await answeredBy("/v2/models/digits/infer", id: "after-\(i)") }
            allStable = answers.allSatisfy { $0 == "1" }
        }
        #expect(allStable, "unnamed requests still reach v2 without a canary")

        await h2.close()
        for process in [router, w1, synchronizer] { await process.stop() }
    }
}

extension Sequence {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
