import Foundation
import Testing

/// Containers run Hedgerow as a user without privileges (the Dockerfile's and the Kubernetes manifests' uid
/// 10001). The test suite itself usually runs as root, which hid a socket option only root may set (SO_DEBUG, asked
/// for by mistake instead of TCP_NODELAY): every connection of a non-root process was reset. Here a worker and a
/// router run as `nobody`: the worker registers by heartbeat (an outgoing connection), the router fetches routes
/// and forwards (outgoing) and serves a client (incoming).
@Suite(.serialized) struct NonRootTests {
    static let nobody: UInt32 = 65534
    static var canDropPrivileges: Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") }

    @Test(.enabled(if: canDropPrivileges, "needs root and setpriv(1) to start processes as nobody"))
    func rolesServeWithoutPrivileges() async throws {
        let setup = try RoleTestSetup("nonroot")
        defer { setup.removeDirectory() }
        let config = setup.directory.appendingPathComponent("desired.yaml").path
        try "repository: \(setup.repository)\nmodels:\n  - { name: digits, replicas: 1 }\n".write(toFile: config, atomically: true, encoding: .utf8)
        let worker = "127.0.0.1:\(setup.workerPort)"

        let synchronizer = try HedgerowProcess(["synchronizer", "--listen", setup.synchronizer, "--desired", config, "--admin-token-file", setup.tokenFile])
        let w1 = try HedgerowProcess(["worker", "--listen", worker, "--name", "w1", "--repository", setup.repository,
                                      "--synchronizer", setup.synchronizer, "--admin-token-file", setup.tokenFile], user: Self.nobody)
        let router = try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", setup.synchronizer], user: Self.nobody)
        let h2 = H2Client(address: setup.router)
        let routed = await RoleTestSetup.waitForReplicas([worker], via: h2, seconds: 60)
        #expect(routed, "worker as nobody never served digits through a router as nobody:\n\(w1.text)\n\(router.text)")
        if routed {
            let body = try JSONSerialization.data(withJSONObject: ["instances": [[Double](repeating: 0.5, count: 64)]])
            let answer = try await h2.send(.POST, "/v1/models/digits:predict", body: body)
            #expect(answer.status == 200, "\(answer.text)")
        }
        #expect(!w1.text.contains("Permission denied") && !router.text.contains("Permission denied"), "\(w1.text)\n\(router.text)")
        await h2.close()
        for process in [router, w1, synchronizer] { await process.stop() }
    }
}
