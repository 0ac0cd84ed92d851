import Foundation
import NIOConcurrencyHelpers
import Testing

/// One request that crashes every worker it reaches (a test-only fault flag stands in for a decoder bug) must not
/// take the pool down: `hedgerow up` with three workers, good traffic all along, and the poison request sent 20
/// times by a retrying client. At most two workers die, the third keeps serving, the router quarantines the
/// request, and `up` restarts the dead workers, which serve again by themselves.
@Suite(.serialized) struct QueryOfDeathTests {
    static let marker = "POISON-7f3c"

    @Test func aQueryOfDeathKillsAtMostTwoWorkersAndThePoolRecovers() async throws {
        let workDir = FileManager.default.temporaryDirectory.appendingPathComponent("hedgerow-qod-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: workDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: workDir) }
        let config = workDir.appendingPathComponent("desired-state.yaml")
        try """
            repository: \(HedgerowProcess.repositoryRoot.appendingPathComponent("Models").path)
            models:
              - name: digits
                versions: { latest: 1 }
                replicas: 3
            """.write(to: config, atomically: true, encoding: .utf8)
        let cluster = try UpCluster(config: config, workers: 3, arguments: ["--worker-argument=--fault-crash-on-body", "--worker-argument=\(Self.marker)"])
        let up = cluster.up
        defer { Task { await up.stop() } }
        try #require(await up.waitForOutput("Hedgerow is up.", timeout: .seconds(120)), "not ready:\n\(up.text)")
        try #require(up.text.contains("digits v1: 3/3 replicas"), "\(up.text)")

        let h2 = H2Client(address: cluster.router)
        defer { Task { await h2.close() } }
        let rows = try Self.rows(8)
        func body(_ row: [Double], id: String) -> Data {
            try! JSONSerialization.data(withJSONObject: ["id": id, "inputs": [["name": "input", "shape": [1, 64], "datatype": "FP32", "data": row]]])
        }

        // Good traffic: two clients, eight distinct rows, until told to stop.
        let stop = NIOLockedValueBox(false)
        let good = NIOLockedValueBox((ok: 0, failures: [String]()))
        let clients = (0..<2).map { client in
            Task {
                var i = client
                while !stop.withLockedValue({ $0 }) {
                    do {
                        // A distinct id per request: a bystander quarantined by bad luck (below) is never sent again.
                        let a = try await h2.send(.POST, "/v2/models/digits/infer", body: body(rows[i % rows.count], id: "good\(i)"))
                        good.withLockedValue { if a.status == 200 { $0.ok += 1 } else { $0.failures.append("\(a.status) \(a.text)") } }
                    } catch {
                        good.withLockedValue { $0.failures.append("\(error)") }
                    }
                    i += 2
                }
            }
        }
        try await Task.sleep(for: .seconds(1))
        let okBefore = good.withLockedValue { $0.ok }

        // The poison request, sent 20 times by a client that retries whatever fails.
        let poison = body(rows[0], id: Self.marker)
        var answers: [(Int, String)] = []
        for _ in 0..<20 {
            do {
                let a = try await h2.send(.POST, "/v2/models/digits/infer", body: poison)
                answers.append((a.status, a.text))
            } catch {
                answers.append((0, "\(error)"))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Task.sleep(for: .seconds(1))
        let okDuring = good.withLockedValue { $0.ok } - okBefore

        // At most two workers died; the poison never got a 200; after the first failure it was refused at once.
        let deaths = cluster.workerDeaths
        #expect(!deaths.isEmpty, "the fault flag crashed no worker:\n\(up.text)")
        #expect(deaths.count <= 2, "more than two workers died:\n\(deaths.joined(separator: "\n"))")
        #expect(!answers.contains { $0.0 == 200 })
        #expect(answers.first?.0 == 503 && answers.first?.1.contains("fingerprint digits/") == true, "first answer: \(String(describing: answers.first))")
        let refused = answers.dropFirst().filter { $0.0 == 422 && $0.1.contains("refused without reaching a worker") }
        #expect(refused.count == 19, "answers: \(answers.map { "\($0.0)" }.joined(separator: " ")) \(answers.last?.1 ?? "")")
        #expect(okDuring > 20, "good traffic stalled while the poison was sent: \(okDuring) answers")

        // The dead workers are restarted and serve again by themselves.
        let dead = Set(deaths.compactMap { line in line.split(separator: " ").dropFirst(3).first.map(String.init) })
        var restarted = false
        let deadline = ContinuousClock.now + .seconds(60)
        while !restarted && ContinuousClock.now < deadline {
            restarted = dead.allSatisfy { up.text.contains("restarted worker \($0)") }
            if !restarted { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(restarted, "not restarted: \(dead)\n\(up.text)")
        let deadAddresses = Set(dead.compactMap { name in Int(name.dropFirst()).map(cluster.workerAddress) })
        var servedBy = Set<String>()
        let serveDeadline = ContinuousClock.now + .seconds(60)
        while !deadAddresses.isSubset(of: servedBy) && ContinuousClock.now < serveDeadline {
            if let a = try? await h2.send(.POST, "/v2/models/digits/infer", body: body(rows[1], id: "after")), a.status == 200,
               let replica = a.headers.first(name: "hedgerow-replica") {
                servedBy.insert(replica)
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(deadAddresses.isSubset(of: servedBy), "restarted workers \(deadAddresses) did not serve again; served by \(servedBy)")

        stop.withLockedValue { $0 = true }
        for client in clients { await client.value }
        let (ok, failures) = good.withLockedValue { ($0.ok, $0.failures) }
        print("query of death: \(deaths.count) worker(s) died, poison answers \(answers.map { "\($0.0)" }.joined(separator: " ")), good requests \(ok) ok, \(failures.count) failed \(failures.prefix(3))")
        // A good request in flight on the worker the poison killed first is retried where the poison's retry
        // goes: `up` puts w1 and w3 in zone a and w2 in zone b, and backups go to another zone first, so both land
        // on w2 and die with it. Having lost its connection twice, exactly like the poison, it is failed (a second
        // lost connection is never retried) and its fingerprint quarantined: the router cannot tell the two apart.
        // At most one such bystander per good client (two here); anything else failing is a bug. (Sending the
        // retries of one lost connection to distinct replicas would save them: an open problem.)
        let bystanders = failures.filter { $0.hasPrefix("503 ") && $0.contains("was lost while each held this request") }
        #expect(bystanders.count <= 2 && failures.count == bystanders.count, "good requests failed: \(failures.prefix(5))")

        let metrics = try await h2.send(.GET, "/metrics").text
        #expect(metrics.contains("hedgerow_router_poison_requests_total{model=\"digits\"} \(1 + bystanders.count)"), "\(metrics.split(separator: "\n").filter { $0.contains("poison") })")
        #expect(metrics.contains(#"hedgerow_router_quarantined_refusals_total{model="digits"} 19"#))
        #expect(await up.stop())
    }

    static func rows(_ count: Int) throws -> [[Double]] {
        let url = HedgerowProcess.repositoryRoot.appendingPathComponent("Models/digits/testset.json")
        let set = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        let inputs = try #require(set?["inputs"] as? [[Double]])
        return Array(inputs.prefix(count))
    }
}
