import Foundation

/// What a test that starts roles one by one needs: a scratch directory with an admin token file, free ports for
/// a router, a synchronizer and two workers, and a look at the router's routes.
struct RoleTestSetup {
    let directory: URL
    let tokenFile: String
    let token: String
    let routerPort: Int
    let syncPort: Int
    /// Two consecutive ports: `workerPort` and `workerPort + 1`.
    let workerPort: Int

    init(_ name: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("hedgerow-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        tokenFile = directory.appendingPathComponent("token").path
        token = "\(name)-token"
        try "\(token)\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        routerPort = FreePorts.consecutive(1)
        syncPort = FreePorts.consecutive(1, avoiding: [routerPort])
        workerPort = FreePorts.consecutive(2, avoiding: [routerPort, syncPort])
    }

    var synchronizer: String { "127.0.0.1:\(syncPort)" }
    var router: String { "127.0.0.1:\(routerPort)" }
    var repository: String { HedgerowProcess.repositoryRoot.appendingPathComponent("Models").path }

    /// Writes a desired state listing two static workers on `workerPort` and `workerPort + 1` and the digits
    /// model on both, with the given hedging policy (YAML flow mapping); returns the file's path.
    func writeConfig(workers: (String, String), hedging: String) throws -> String {
        let path = directory.appendingPathComponent("desired.yaml").path
        try """
            repository: \(repository)
            workers:
              - { name: \(workers.0), address: 127.0.0.1:\(workerPort), zone: a }
              - { name: \(workers.1), address: 127.0.0.1:\(workerPort + 1), zone: b }
            models:
              - name: digits
                replicas: 2
                hedging: \(hedging)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func removeDirectory() { try? FileManager.default.removeItem(at: directory) }

    /// The replicas the router routes `digits` v1 to.
    static func replicas(via client: H2Client) async -> [String] {
        let routes = try? await client.send(.GET, "/v1/routes").json
        return ((routes?["models"] as? [String: Any])?["digits"] as? [String: Any]).flatMap { ($0["versions"] as? [String: [String]])?["1"] } ?? []
    }

    /// Waits (bounded) until the router routes `digits` v1 to exactly `expected`.
    static func waitForReplicas(_ expected: [String], via client: H2Client, seconds: Int) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if await replicas(via: client) == expected { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
