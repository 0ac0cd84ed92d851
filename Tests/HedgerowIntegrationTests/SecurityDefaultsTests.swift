import Foundation
import NIOHTTP1
import Testing

/// A real worker on loopback: the admin API answers 401 to anything but the exact bearer token, never shows the
/// token, and no URL or repository link makes it read a file outside its version directory.
@Suite(.serialized) struct SecurityDefaultsTests {
    /// `digits/1` (real), `passwd/1/model.onnx -> /etc/passwd`, `escaped/1 -> a directory outside holding a copy
    /// of digits`.
    static func makeRepository(in directory: URL) throws -> String {
        let fm = FileManager.default
        let root = directory.appendingPathComponent("repo"), outside = directory.appendingPathComponent("outside")
        let digits = HedgerowProcess.repositoryRoot.appendingPathComponent("Models/digits/1/model.onnx")
        for path in ["repo/digits/1", "repo/passwd/1", "repo/escaped", "outside"] {
            try fm.createDirectory(at: directory.appendingPathComponent(path), withIntermediateDirectories: true)
        }
        try fm.copyItem(at: digits, to: root.appendingPathComponent("digits/1/model.onnx"))
        try fm.copyItem(at: digits, to: outside.appendingPathComponent("model.onnx"))
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("passwd/1/model.onnx").path, withDestinationPath: "/etc/passwd")
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("escaped/1").path, withDestinationPath: outside.path)
        return root.path
    }

    @Test func adminTokenAndPathTraversalOverHTTP() async throws {
        let setup = try RoleTestSetup("security")
        defer { setup.removeDirectory() }
        let repository = try Self.makeRepository(in: setup.directory)
        let port = setup.workerPort, token = setup.token
        try await Self.withWorker(["--admin-token-file", setup.tokenFile, "--repository", repository], port: port) { worker, client in
            let good: HTTPHeaders = ["authorization": "Bearer \(token)"]

            // 401 for anything but exactly `Bearer <token>`, before the path or method is even looked at.
            let wrong: [HTTPHeaders] = [
                [:], ["authorization": "Basic \(token)"], ["authorization": "Bearer wrong"], ["authorization": "Bearer \(token.dropLast())"],
                ["authorization": "Bearer \(token)x"], ["authorization": "Bearer  \(token)"], ["authorization": "Bearer"], ["authorization": token],
                ["authorization": "Bearer \(token.prefix(1))"], HTTPHeaders([("authorization", "Bearer \(token)"), ("authorization", "Bearer wrong")]),
            ]
            for headers in wrong {
                for (method, path) in [(HTTPMethod.GET, "/admin/state"), (.PUT, "/admin/models/digits/versions/1"), (.PUT, "/admin/models/%2e%2e/versions/1"), (.POST, "/admin/nothing")] {
                    let answer = try await client.send(method, path, headers: headers)
                    #expect(answer.status == 401, "\(method) \(path) with \(headers): \(answer.status) \(answer.text)")
                    #expect(!answer.text.contains(token))
                }
            }
            #expect(try await client.send(.GET, "/admin/state", headers: good).status == 200)
            #expect(try await client.send(.GET, "/admin/state", headers: ["authorization": "bearer \(token)"]).status == 200)

            // Hostile names and versions in admin paths: 400, with the token.
            for path in ["/admin/models/%2e%2e/versions/1", "/admin/models/..%2f..%2fetc/versions/1", "/admin/models/%252e%252e/versions/1",
                         "/admin/models/a%00b/versions/1", "/admin/models/.digits/versions/1", "/admin/models/digits/versions/%2e%2e",
                         "/admin/models/digits/versions/01", "/admin/models/digits/versions/+1", "/admin/models/digits/versions/99999999999999999999",
                         "/admin/models/a%5cb/versions/1"] {
                let answer = try await client.send(.PUT, path, headers: good)
                #expect(answer.status == 400, "PUT \(path): \(answer.status) \(answer.text)")
            }
            #expect(try await client.send(.PUT, "/admin/models/digits/versions/1/../../../passwd/versions/1", headers: good).status == 404)

            // Hostile names in client API paths: 400 before any lookup.
            for (method, path) in [(HTTPMethod.GET, "/v2/models/%2e%2e/ready"), (.POST, "/v1/models/..%2f..%2fetc%2fpasswd:predict"),
                                   (.POST, "/v2/models/%252e%252e/infer"), (.POST, "/v2/models/digits/versions/%00/infer"),
                                   (.GET, "/v1/models/digits/labels/%2e%2e"), (.GET, "/v2/models/digits/versions/99999999999999999999")] {
                let answer = try await client.send(method, path, body: Data("{}".utf8))
                #expect(answer.status == 400, "\(method) \(path): \(answer.status) \(answer.text)")
            }

            // Versions whose files link out of the repository fail to load; the real one loads.
            for model in ["digits", "passwd", "escaped"] {
                let answer = try await client.send(.PUT, "/admin/models/\(model)/versions/1", headers: good)
                #expect([200, 202].contains(answer.status), "load \(model): \(answer.status) \(answer.text)")
            }
            var states: [String: [String: Any]] = [:]
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let models = try await client.send(.GET, "/admin/state", headers: good).json?["models"] as? [[String: Any]] ?? []
                states = Dictionary(models.map { ($0["model"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
                if states.count == 3, !states.values.contains(where: { $0["state"] as? String == "LOADING" }) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(states["digits"]?["state"] as? String == "AVAILABLE", "\(states)")
            for model in ["passwd", "escaped"] {
                #expect(states[model]?["state"] as? String == "FAILED", "\(model): \(String(describing: states[model]))")
                let error = states[model]?["error"] as? String ?? ""
                #expect(error.contains("resolves outside"), "\(model): \(error)")
                #expect(!error.contains("root:") && !error.contains(setup.directory.path))
                let infer = try await client.send(.POST, "/v2/models/\(model)/infer", body: Data("{}".utf8))
                #expect(infer.status != 200 && !infer.text.contains("root:"))
            }

            // Nothing the worker printed holds the token.
            #expect(!worker.text.contains(token), "the worker logged its admin token")
        }
    }

    @Test func aWorkerWithoutATokenRefusesTheAdminAPI() async throws {
        let setup = try RoleTestSetup("tokenless")
        defer { setup.removeDirectory() }
        let port = setup.workerPort
        try await Self.withWorker(["--repository", "Models"], port: port) { _, client in
            for headers: HTTPHeaders in [[:], ["authorization": "Bearer anything"], ["authorization": "Basic anything"]] {
                let state = try await client.send(.GET, "/admin/state", headers: headers)
                #expect(state.status == 401)
                #expect(state.text.contains("--admin-token-file"))
                #expect(try await client.send(.PUT, "/admin/models/digits/versions/1", headers: headers).status == 401)
            }
            // The client API still serves (nothing is loaded, so the model is unknown).
            #expect(try await client.send(.GET, "/v2/health/live").status == 200)
        }
    }

    /// A real synchronizer: heartbeats cannot take a name held elsewhere (409), and invalid ones are 400s.
    @Test func heartbeatsCannotTakeAnotherWorkersName() async throws {
        let setup = try RoleTestSetup("names")
        defer { setup.removeDirectory() }
        let config = try setup.writeConfig(workers: ("w1", "w2"), hedging: "{ budgetPercent: 0 }")
        let synchronizer = try HedgerowProcess(["synchronizer", "--listen", setup.synchronizer, "--desired", config, "--admin-token-file", setup.tokenFile])
        let client = H2Client(address: setup.synchronizer)
        let token = try String(contentsOfFile: setup.tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        func beat(_ name: String, _ address: String, token: String? = token) async throws -> Answer {
            let body = try JSONSerialization.data(withJSONObject: ["name": name, "address": address, "zone": "a", "memoryMB": 1024])
            var headers: HTTPHeaders = ["content-type": "application/json"]
            if let token { headers.add(name: "authorization", value: "Bearer \(token)") }
            return try await client.send(.POST, "/v1/workers/heartbeat", body: body, headers: headers)
        }
        do {
            try #require(await FreePorts.waitUntilListening(setup.syncPort), "synchronizer did not listen:\n\(synchronizer.text)")
            // A synchronizer with an admin token takes heartbeats only from workers that hold it.
            #expect(try await beat("w5", "127.0.0.1:\(setup.workerPort + 4)", token: nil).status == 401)
            #expect(try await beat("w5", "127.0.0.1:\(setup.workerPort + 4)", token: "not-the-token").status == 401)
            let elsewhere = "127.0.0.1:\(setup.routerPort)"
            // A static worker's name stays at the address the desired state gives it.
            let stolen = try await beat("w1", elsewhere)
            #expect(stolen.status == 409 && stolen.text.contains("declared in the desired state"), "\(stolen.status) \(stolen.text)")
            #expect(try await beat("w1", "127.0.0.1:\(setup.workerPort)").status == 200)
            // A registered worker's name is held by its address while it is alive.
            #expect(try await beat("w3", "127.0.0.1:\(setup.workerPort + 2)").status == 200)
            let taken = try await beat("w3", elsewhere)
            #expect(taken.status == 409 && taken.text.contains("held by a live worker"), "\(taken.status) \(taken.text)")
            #expect(try await beat("w3", "127.0.0.1:\(setup.workerPort + 2)").status == 200)
            for (name, address) in [("../w4", elsewhere), ("w4", "127.0.0.1:0"), ("w4", "127.0.0.1:+80"), ("w4\n", elsewhere), ("w4", "evil@127.0.0.1:80")] {
                #expect(try await beat(name, address).status == 400, "\(name) at \(address)")
            }
            // The inventory holds exactly the three legitimate names (the state report follows within a round).
            var names: Set<String> = []
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                let workers = try await client.send(.GET, "/v1/state").json?["workers"] as? [[String: Any]] ?? []
                names = Set(workers.compactMap { $0["name"] as? String })
                if names.contains("w3") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(names == ["w1", "w2", "w3"])
        } catch {
            await client.close()
            await synchronizer.stop()
            throw error
        }
        await client.close()
        await synchronizer.stop()
    }

    /// Starts `hedgerow worker` on loopback `port` with `arguments`, runs `body`, and stops the worker and the
    /// client whatever happens (bounded: SIGKILL after the grace period).
    static func withWorker(_ arguments: [String], port: Int, _ body: (HedgerowProcess, H2Client) async throws -> Void) async throws {
        let worker = try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(port)", "--name", "w1"] + arguments)
        let client = H2Client(address: "127.0.0.1:\(port)")
        do {
            try #require(await FreePorts.waitUntilListening(port), "worker did not listen:\n\(worker.text)")
            try await body(worker, client)
        } catch {
            await client.close()
            await worker.stop()
            throw error
        }
        await client.close()
        await worker.stop()
    }
}
