import Foundation
import NIOConcurrencyHelpers
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A model too big for one worker, served split: the ranker example (`Models/ranker/make_ranker.py`, 9.2 MiB of
/// tables in ONNX external data) on six workers that offer 8 MiB each, through the real router, synchronizer and
/// workers.
///
/// One test, in steps, because each step starts from the last one's state: unsplit it is refused with a placement
/// problem; sharded 4 × 2 it serves rows exactly as the formula says; a shard replica killed costs no request;
/// both replicas of a shard gone give fast 503s naming the shard; restarted, it serves again without errors; a
/// rollout to v2 (another formula) under load never answers with rows of both versions.
@Suite(.serialized) struct ShardedServingTests {
    static let users = 100_000, items = 50_000, dim = 16

    /// The formula of `make_ranker.py`.
    static func weight(version: Int, _ row: Int, _ column: Int) -> Double {
        let (a, b) = version == 1 ? (31, 7) : (17, 13)
        return Double((row * a + column * b) % 1024 - 512) / 1024
    }

    final class Cluster: @unchecked Sendable {
        let setup: RoleTestSetup
        let repository: URL
        let config: String
        let ports: [Int]
        var workers: [HedgerowProcess?] = []
        var synchronizer: HedgerowProcess?
        var router: HedgerowProcess?
        let client: H2Client
        let control: H2Client

        init() throws {
            setup = try RoleTestSetup("sharding")
            repository = setup.directory.appendingPathComponent("Models")
            config = setup.directory.appendingPathComponent("desired.yaml").path
            let base = FreePorts.consecutive(6, avoiding: [setup.routerPort, setup.syncPort, setup.workerPort, setup.workerPort + 1])
            ports = Array(base..<base + 6)
            client = H2Client(address: setup.router)
            control = H2Client(address: setup.synchronizer)
        }

        func makeVersion(_ version: Int) throws {
            let script = Process()
            script.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            script.arguments = ["python3", HedgerowProcess.repositoryRoot.appendingPathComponent("Models/ranker/make_ranker.py").path,
                                "--repository", repository.path, "--version", String(version),
                                "--users", String(ShardedServingTests.users), "--items", String(ShardedServingTests.items), "--dim", String(ShardedServingTests.dim)]
            try script.run()
            script.waitUntilExit()
            guard script.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        }

        func writeConfig(sharding: String?) throws {
            try """
                repository: \(repository.path)
                models:
                  - name: ranker
                    versions: { latest: 1 }
                    replicas: 2
                \(sharding.map { "    sharding: \($0)" } ?? "")

                """.write(toFile: config, atomically: true, encoding: .utf8)
        }

        func start() throws {
            synchronizer = try HedgerowProcess(["synchronizer", "--listen", setup.synchronizer, "--desired", config, "--admin-token-file", setup.tokenFile,
                                                "--heartbeat-interval", "0.5"])
            router = try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", setup.synchronizer,
                                          "--routes-cache", setup.directory.appendingPathComponent("routes.json").path])
            workers = try (0..<ports.count).map { try startWorker($0) }
        }

        func startWorker(_ i: Int) throws -> HedgerowProcess {
            try HedgerowProcess(["worker", "--listen", "127.0.0.1:\(ports[i])", "--name", "w\(i + 1)", "--zone", i % 2 == 0 ? "a" : "b",
                                 "--memory-mb", "8", "--admin-token-file", setup.tokenFile, "--repository", repository.path,
                                 "--synchronizer", setup.synchronizer, "--heartbeat-interval", "0.5"])
        }

        func kill(_ i: Int) {
            guard let worker = workers[i] else { return }
            Glibc.kill(worker.process.processIdentifier, SIGKILL)
            worker.process.waitUntilExit()
            workers[i] = nil
        }

        func restart(_ i: Int) throws { workers[i] = try startWorker(i) }

        /// `GET /v1/state`'s versions.
        func versions() async -> [[String: Any]] {
            ((try? await control.send(.GET, "/v1/state").json)?["versions"] as? [[String: Any]]) ?? []
        }

        /// Worker names holding `model` v`version` AVAILABLE.
        func holders(_ model: String, version: Int = 1) async -> [String] {
            let entry = await versions().first { $0["model"] as? String == model && $0["version"] as? Int == version }
            return ((entry?["replicas"] as? [[String: Any]]) ?? []).filter { $0["state"] as? String == "AVAILABLE" }.compactMap { $0["worker"] as? String }
        }

        func index(of worker: String) -> Int? { Int(worker.dropFirst()).map { $0 - 1 } }

        /// Waits (bounded) for `condition`.
        func wait(seconds: Int, _ condition: () async -> Bool) async -> Bool {
            let deadline = ContinuousClock.now + .seconds(seconds)
            while ContinuousClock.now < deadline {
                if await condition() { return true }
                try? await Task.sleep(for: .milliseconds(200))
            }
            return false
        }

        func stop() async {
            // HEDGEROW_TEST_LOGS=DIR keeps every process's output there, to read after a failure.
            if let directory = ProcessInfo.processInfo.environment["HEDGEROW_TEST_LOGS"] {
                for (name, process) in [("router", router), ("synchronizer", synchronizer)] + workers.enumerated().map({ ("w\($0.offset + 1)", $0.element) }) {
                    try? process?.text.write(toFile: "\(directory)/sharding-\(name).log", atomically: true, encoding: .utf8)
                }
            }
            await client.close()
            await control.close()
            for process in [router, synchronizer] + workers { if let process { await process.stop() } }
            setup.removeDirectory()
        }
    }

    /// One inference through the router: status, the version that answered, and whether every row of `user_vec`
    /// and `item_vec` is the formula's for that version (nil when the answer is not a 200).
    static func infer(_ client: H2Client, users: [Int], items: [Int]) async -> (status: Int, version: Int?, exact: Bool?, text: String) {
        let body = try? JSONSerialization.data(withJSONObject: ["inputs": [
            ["name": "user", "shape": [users.count], "datatype": "INT64", "data": users],
            ["name": "item", "shape": [items.count], "datatype": "INT64", "data": items],
        ]])
        guard let answer = try? await client.send(.POST, "/v2/models/ranker/infer", body: body ?? Data()) else { return (0, nil, nil, "no answer") }
        guard answer.status == 200, let json = answer.json, let outputs = json["outputs"] as? [[String: Any]],
              let version = (json["model_version"] as? String).flatMap({ Int($0) }) else {
            return (answer.status, nil, nil, answer.text)
        }
        func rows(_ name: String) -> [Double] { (outputs.first { $0["name"] as? String == name }?["data"] as? [Double]) ?? [] }
        func matches(_ values: [Double], ids: [Int], rows count: Int) -> Bool {
            guard values.count == ids.count * dim else { return false }
            for (n, id) in ids.enumerated() {
                let row = id < 0 ? id + count : id
                // The JSON holds float32 values in their shortest form: compared as float32.
                for c in 0..<dim where Float(values[n * dim + c]) != Float(weight(version: version, row, c)) { return false }
            }
            return true
        }
        return (200, version, matches(rows("user_vec"), ids: users, rows: Self.users) && matches(rows("item_vec"), ids: items, rows: Self.items), answer.text)
    }

    static func randomRequest() -> (users: [Int], items: [Int]) {
        let n = Int.random(in: 1...8)
        var users = (0..<n).map { _ in Int.random(in: -Self.users..<Self.users) }
        var items = (0..<n).map { _ in Int.random(in: 0..<Self.items) }
        users[0] = [0, Self.users - 1, -1, users[0]].randomElement() ?? 0
        if n > 1 { users[1] = users[0]; items[1] = items[0] }  // duplicates
        return (users, items)
    }

    /// Requests back to back from two clients until stopped (bounded in count and time), with each answer.
    final class Load: @unchecked Sendable {
        struct Record { var status: Int; var version: Int?; var exact: Bool?; var text: String; var took: Duration }
        let records = NIOLockedValueBox<[Record]>([])
        let stopped = NIOLockedValueBox(false)
        var tasks: [Task<Void, Never>] = []

        func start(_ client: H2Client) {
            for _ in 0..<2 {
                tasks.append(Task {
                    let deadline = ContinuousClock.now + .seconds(240)
                    var sent = 0
                    while !self.stopped.withLockedValue({ $0 }), ContinuousClock.now < deadline, sent < 50_000 {
                        let (users, items) = ShardedServingTests.randomRequest()
                        let started = ContinuousClock.now
                        let answer = await ShardedServingTests.infer(client, users: users, items: items)
                        self.records.withLockedValue { $0.append(Record(status: answer.status, version: answer.version, exact: answer.exact, text: answer.text, took: .now - started)) }
                        sent += 1
                        try? await Task.sleep(for: .milliseconds(5))
                    }
                })
            }
        }

        func stop() async -> [Record] {
            stopped.withLockedValue { $0 = true }
            for task in tasks { await task.value }
            return records.withLockedValue { $0 }
        }
    }

    @Test(.timeLimit(.minutes(6)))
    func aModelTooBigForOneWorkerIsServedSplit() async throws {
        let cluster = try Cluster()
        do { try await steps(cluster) } catch { Issue.record(error) }
        await cluster.stop()
    }

    private func steps(_ cluster: Cluster) async throws {
        try cluster.makeVersion(1)

        // Unsplit, 9.2 MiB of tables fit no 8 MiB worker: a placement problem that says so.
        try cluster.writeConfig(sharding: nil)
        try cluster.start()
        let refused = await cluster.wait(seconds: 60) {
            let ranker = await cluster.versions().first { $0["model"] as? String == "ranker" }
            return (ranker?["problem"] as? String)?.contains("MB free") == true
        }
        let afterRefusal = await cluster.versions()
        #expect(refused, "the unsplit ranker is refused for memory: \(afterRefusal)")

        // Sharded 4 × 2: placed, and served once whole.
        try cluster.writeConfig(sharding: "{ tables: [user_emb, item_emb], shards: 4, by: mod, replicas: 2 }")
        let served = await cluster.wait(seconds: 90) {
            await ShardedServingTests.infer(cluster.client, users: [0], items: [0]).status == 200
        }
        let whenServed = await cluster.versions()
        #expect(served, "the sharded ranker serves: \(whenServed)")
        guard served else { return }
        for _ in 0..<20 {
            let (users, items) = Self.randomRequest()
            let answer = await Self.infer(cluster.client, users: users, items: items)
            #expect(answer.status == 200 && answer.version == 1 && answer.exact == true, "\(users) \(items): \(answer.text.prefix(300))")
        }
        let state = await cluster.versions()
        let parts = Set(state.compactMap { $0["part"] as? String })
        #expect(parts == ["entry", "ps 0/4", "ps 1/4", "ps 2/4", "ps 3/4"], "hedgerow status shows each part: \(parts)")
        let empty = await Self.infer(cluster.client, users: [], items: [])
        #expect(empty.status == 200, "an empty batch: \(empty.text.prefix(200))")
        let outOfRange = await Self.infer(cluster.client, users: [Self.users], items: [0])
        #expect(outOfRange.status == 400 && outOfRange.text.contains("out of range"), "the unsplit model's 400: \(outOfRange.text.prefix(300))")

        // A PS part's lookup endpoint takes hostile bytes: each refused with its reason, and the part still answers.
        if let holder = await cluster.holders("ranker.ps-0").first, let index = cluster.index(of: holder) {
            let part = H2Client(address: "127.0.0.1:\(cluster.ports[index])")
            let path = "/v1/parts/ranker.ps-0/versions/1/lookup"
            func lookup(digest: String, row: Int64, count: UInt32 = 1) -> Data {
                var body = Data("HLQ1".utf8) + [UInt8(digest.utf8.count)] + Data(digest.utf8) + [1, 0]
                body += [8, 0] + Data("user_emb".utf8)
                withUnsafeBytes(of: count.littleEndian) { body += $0 }
                withUnsafeBytes(of: row.littleEndian) { body += $0 }
                return body
            }
            let digest = "ranker/1/mod/4/item_emb,user_emb"
            let cases: [(Data, Int, String)] = [
                (Data("garbage".utf8), 400, "not a Hedgerow lookup message"),
                (lookup(digest: digest, row: 0, count: 4_000_000_000), 400, "lookup message claims"),
                (lookup(digest: "ranker/2/mod/4/item_emb,user_emb", row: 0), 409, "reached shard 0"),
                (lookup(digest: digest, row: 1), 400, "row 1 is on shard 1, not on shard 0"),
                (lookup(digest: digest, row: Int64(Self.users)), 400, "outside its"),
                (lookup(digest: digest, row: 4), 200, "HLA1"),
            ]
            for (body, status, message) in cases {
                let answer = try await part.send(.POST, path, body: body)
                #expect(answer.status == status && answer.text.contains(message), "\(status) \(message): got \(answer.status) \(answer.text.prefix(200))")
            }
            let inference = try await part.send(.POST, "/v2/models/ranker.ps-0/infer", body: Data("{}".utf8))
            #expect(inference.status == 404 && inference.text.contains("answers lookups from entries"), "\(inference.text)")
            await part.close()
        }

        // Under load, kill -9 a worker holding a replica of shard 0 (but not every entry): no request fails.
        let entries = await cluster.holders("ranker")
        let shard0 = await cluster.holders("ranker.ps-0")
        guard let victim = shard0.first(where: { !Set(entries).subtracting([$0]).isEmpty }), let victimIndex = cluster.index(of: victim) else {
            Issue.record("no replica of shard 0 to kill: entries \(entries), shard 0 \(shard0)")
            return
        }
        let load = Load()
        load.start(cluster.client)
        try await Task.sleep(for: .seconds(2))
        cluster.kill(victimIndex)
        try await Task.sleep(for: .seconds(4))
        let afterKill = await load.stop()
        let failed = afterKill.filter { $0.status != 200 || $0.exact != true }
        #expect(afterKill.count > 50 && failed.isEmpty, "\(afterKill.count) requests, \(failed.count) failed: \(failed.prefix(3).map { "\($0.status) \($0.text.prefix(200))" })")

        // Both replicas of a shard gone: fast 503s naming the shard, no hang.
        let remaining = await cluster.holders("ranker")
        var target: (shard: Int, workers: [Int])?
        for shard in 0..<4 {
            let holders = await cluster.holders("ranker.ps-\(shard)").filter { $0 != victim }
            if holders.count >= 1, !Set(remaining).subtracting(holders).isEmpty { target = (shard, holders.compactMap(cluster.index(of:))); break }
        }
        if let target {
            for index in target.workers { cluster.kill(index) }
            var sawShard503 = false
            for _ in 0..<20 {
                let started = ContinuousClock.now
                let answer = await Self.infer(cluster.client, users: Array(0..<16), items: Array(0..<16))
                let took = ContinuousClock.now - started
                #expect(took < .seconds(3), "an answer within 3 s, not a hang: \(took)")
                if answer.status == 503, answer.text.contains("shard \(target.shard)") { sawShard503 = true; break }
                if answer.status == 200 { break }  // already re-placed on the workers left
            }
            #expect(sawShard503, "a 503 naming shard \(target.shard)")
            for index in target.workers { try cluster.restart(index) }
        } else {
            Issue.record("no shard whose replicas leave an entry standing")
        }
        try cluster.restart(victimIndex)
        let back = await cluster.wait(seconds: 90) {
            for _ in 0..<5 {
                // Ids on every shard, so that a shard still being placed again shows.
                if await ShardedServingTests.infer(cluster.client, users: Array(0..<8), items: Array(0..<8)).status != 200 { return false }
            }
            return true
        }
        let whenBack = await cluster.versions()
        #expect(back, "served again after the workers came back: \(whenBack)")

        // A rollout to v2 under load: every answer is wholly one version's rows.
        let rollout = Load()
        rollout.start(cluster.client)
        try await Task.sleep(for: .seconds(1))
        try cluster.makeVersion(2)
        let moved = await cluster.wait(seconds: 120) {
            rollout.records.withLockedValue { records in records.suffix(20).count == 20 && records.suffix(20).allSatisfy { $0.version == 2 } }
        }
        try await Task.sleep(for: .seconds(1))
        let during = await rollout.stop()
        let afterRollout = await cluster.versions()
        #expect(moved, "traffic moved to v2: \(afterRollout)")
        let mixed = during.filter { $0.status == 200 && $0.exact != true }
        #expect(mixed.isEmpty, "\(mixed.count) answers mixed versions' rows")
        let versionsSeen = Set(during.compactMap(\.version))
        #expect(versionsSeen == [1, 2], "answers from both versions during the rollout: \(versionsSeen)")
        let failedDuring = during.filter { $0.status != 200 }
        #expect(failedDuring.isEmpty, "\(failedDuring.count) of \(during.count) failed during the rollout: \(failedDuring.prefix(3).map { "\($0.status) \($0.text.prefix(200))" })")
    }
}
