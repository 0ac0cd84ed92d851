import Foundation
import Testing

/// Kubernetes updates a ConfigMap mounted as a volume by writing the new files into a fresh timestamped directory,
/// pointing a temporary symlink at it, renaming that over `..data` (one atomic step) and deleting the old
/// directory; `desired-state.yaml` itself is a symlink to `..data/desired-state.yaml` that never changes. The file
/// is never written in place, so a watcher of its inode or modification time would miss the edit. The
/// synchronizer rereads the path every second and must apply the new state within 2 s.
@Suite(.serialized) struct ConfigMapDesiredStateTests {
    @Test func theSynchronizerFollowsAConfigMapSymlinkSwap() async throws {
        let setup = try RoleTestSetup("configmap")
        defer { setup.removeDirectory() }
        let volume = setup.directory.appendingPathComponent("config")
        let files = FileManager.default
        try files.createDirectory(at: volume, withIntermediateDirectories: true)

        func publish(_ yaml: String, revision: String, replacing old: String?) throws {
            let dir = volume.appendingPathComponent("..2026_11_24_\(revision)")
            try files.createDirectory(at: dir, withIntermediateDirectories: false)
            try yaml.write(to: dir.appendingPathComponent("desired-state.yaml"), atomically: false, encoding: .utf8)
            let temporary = volume.appendingPathComponent("..data_tmp").path
            try files.createSymbolicLink(atPath: temporary, withDestinationPath: dir.lastPathComponent)
            guard rename(temporary, volume.appendingPathComponent("..data").path) == 0 else { throw CocoaError(.fileWriteUnknown) }
            if let old { try files.removeItem(at: volume.appendingPathComponent("..2026_11_24_\(old)")) }
        }
        func state(_ yamlModels: String) -> String {
            "repository: \(setup.repository)\nworkers:\n  - { name: w1, address: 127.0.0.1:\(setup.workerPort), zone: a }\nmodels:\n\(yamlModels)"
        }
        try publish(state("  - { name: digits, replicas: 1 }\n"), revision: "a", replacing: nil)
        try files.createSymbolicLink(atPath: volume.appendingPathComponent("desired-state.yaml").path, withDestinationPath: "..data/desired-state.yaml")

        let config = volume.appendingPathComponent("desired-state.yaml").path
        let synchronizer = try HedgerowProcess(["synchronizer", "--listen", setup.synchronizer, "--desired", config, "--admin-token-file", setup.tokenFile])
        let client = H2Client(address: setup.synchronizer)
        func planned() async -> (hash: String?, models: Set<String>) {
            let json = try? await client.send(.GET, "/v1/state").json
            let models = (json?["versions"] as? [[String: Any]])?.compactMap { $0["model"] as? String } ?? []
            return (json?["configHash"] as? String, Set(models))
        }
        var first: (hash: String?, models: Set<String>) = (nil, [])
        for _ in 0..<300 where first.models != ["digits"] {
            first = await planned()
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(first.models == ["digits"], "the synchronizer never planned the first state:\n\(synchronizer.text)")

        try publish(state("  - { name: digits, replicas: 1 }\n  - { name: digits-cnn, replicas: 1 }\n"), revision: "b", replacing: "a")
        let swapped = ContinuousClock.now
        var after = first
        while ContinuousClock.now - swapped < .seconds(5) && after.models != ["digits", "digits-cnn"] {
            try await Task.sleep(for: .milliseconds(50))
            after = await planned()
        }
        let took = ContinuousClock.now - swapped
        #expect(after.models == ["digits", "digits-cnn"], "not applied: \(after)\n\(synchronizer.text)")
        #expect(after.hash != first.hash)
        #expect(took < .seconds(2), "applied after \(took)")
        await client.close()
        await synchronizer.stop()
    }
}
