import Foundation
import HedgerowCore
import Testing

/// Builds repositories with links in a temporary directory and checks that every file read goes through the
/// real-path containment check.
@Suite struct ModelRepositoryLinkTests {
    let scratch: URL
    let root: URL
    let outside: URL

    init() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("hedgerow-links-\(UUID().uuidString)")
        root = scratch.appendingPathComponent("repo")
        outside = scratch.appendingPathComponent("outside")
        let fm = FileManager.default
        try fm.createDirectory(at: outside, withIntermediateDirectories: true)
        try Data("secret".utf8).write(to: outside.appendingPathComponent("secret.onnx"))
        // good/1: a plain version.
        try Self.version(root, "good", 1, model: true)
        // alias/1 real, alias/2 -> 1 (a link that stays inside the repository).
        try Self.version(root, "alias", 1, model: true)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("alias/2").path, withDestinationPath: "1")
        // passwd/1/model.onnx -> /etc/passwd.
        try Self.version(root, "passwd", 1, model: false)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("passwd/1/model.onnx").path, withDestinationPath: "/etc/passwd")
        // relative/1/model.onnx -> ../../../outside/secret.onnx (relative link out).
        try Self.version(root, "relative", 1, model: false)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("relative/1/model.onnx").path, withDestinationPath: "../../../outside/secret.onnx")
        // sibling/1/model.onnx -> ../2/model.onnx: inside the repository but outside its own version directory.
        try Self.version(root, "sibling", 2, model: true)
        try Self.version(root, "sibling", 1, model: false)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("sibling/1/model.onnx").path, withDestinationPath: "../2/model.onnx")
        // escaped/1 -> a directory outside the repository holding a model.onnx.
        try fm.createDirectory(at: root.appendingPathComponent("escaped"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: outside.appendingPathComponent("model.onnx"))
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("escaped/1").path, withDestinationPath: outside.path)
        // config/1: a real model, config.yaml -> outside.
        try Self.version(root, "config", 1, model: true)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("config/1/config.yaml").path, withDestinationPath: outside.appendingPathComponent("secret.onnx").path)
        // fifo/1/model.onnx is a FIFO: would block the load thread forever.
        try Self.version(root, "fifo", 1, model: false)
        #expect(mkfifo(root.appendingPathComponent("fifo/1/model.onnx").path, 0o600) == 0)
        // dangling/1/model.onnx -> nowhere.
        try Self.version(root, "dangling", 1, model: false)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("dangling/1/model.onnx").path, withDestinationPath: "nowhere.onnx")
    }

    static func version(_ root: URL, _ model: String, _ version: Int, model withModel: Bool) throws {
        let directory = root.appendingPathComponent("\(model)/\(version)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if withModel { try Data("onnx".utf8).write(to: directory.appendingPathComponent("model.onnx")) }
    }

    func id(_ model: String, _ version: Int) -> ModelVersionID {
        ModelVersionID(model: try! ModelName(model), version: try! ModelVersion(version))
    }

    /// The planner's estimate counts external data files (under the version directory, links not followed) but not
    /// the config or the reference answers.
    @Test func theSizeEstimateCountsExternalDataFiles() throws {
        let directory = root.appendingPathComponent("good/1")
        try Data(count: 100).write(to: directory.appendingPathComponent("weights.bin"))
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        try Data(count: 1000).write(to: directory.appendingPathComponent("data/table.bin"))
        try Data(count: 7).write(to: directory.appendingPathComponent("config.yaml"))
        try Data(count: 9).write(to: directory.appendingPathComponent("reference.json"))
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("big.bin").path, withDestinationPath: outside.appendingPathComponent("secret.onnx").path)
        let repository = ModelRepository(root: root.path)
        #expect(repository.fileSize(id("good", 1)) == 4 + 100 + 1000)
    }

    @Test func plainVersionsAndLinksThatStayInsideAreRead() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let repository = ModelRepository(root: root.path)
        let good = try repository.verifiedModelFile(id("good", 1))
        #expect(good.hasSuffix("/repo/good/1/model.onnx"))
        #expect(try repository.verifiedConfigFile(id("good", 1)) == nil)
        #expect(try repository.verifiedModelFile(id("alias", 2)).hasSuffix("/repo/alias/1/model.onnx"))
        #expect(repository.versions(of: try ModelName("alias")).map(\.number) == [1, 2])
        #expect(repository.fileSize(id("good", 1)) == 4)
    }

    @Test(arguments: ["passwd", "relative", "sibling", "escaped", "config", "fifo"])
    func linksOutOfTheVersionDirectoryAreRefused(_ model: String) {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let repository = ModelRepository(root: root.path)
        let version = id(model, 1)
        let error = #expect(throws: HedgerowError.self) {
            _ = try repository.verifiedModelFile(version)
            _ = try repository.verifiedConfigFile(version)
        }
        // The refusal names the version, never where the link points.
        #expect(error?.kind == .loadFailed)
        #expect(error?.message.contains("\(model)/1") == true)
        #expect(error?.message.contains(outside.path) == false)
        #expect(error?.message.contains("/etc/passwd") == false)
        // The synchronizer never places such a version, nor sizes it by the target's size.
        if model != "config" {
            #expect(!repository.versions(of: version.model).contains(version.version))
            #expect(repository.fileSize(version) == nil)
        }
    }

    @Test func danglingLinksAndMissingVersionsAreNotFound() {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let repository = ModelRepository(root: root.path)
        #expect(throws: HedgerowError.self) { try repository.verifiedModelFile(id("dangling", 1)) }
        #expect(throws: HedgerowError.self) { try repository.verifiedModelFile(id("good", 9)) }
        #expect(throws: HedgerowError.self) { try repository.verifiedModelFile(id("absent", 1)) }
        #expect(repository.versions(of: try! ModelName("dangling")).isEmpty)
    }

    @Test func containmentComparesWholeComponents() {
        defer { try? FileManager.default.removeItem(at: scratch) }
        #expect(ModelRepository.isInside("/models/a", "/models"))
        #expect(!ModelRepository.isInside("/models2/a", "/models"))
        #expect(!ModelRepository.isInside("/models", "/models"))
        #expect(ModelRepository.isInside("/a", "/"))
    }

    @Test func aConfigPathLeadsBackToItsVersion() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let repository = ModelRepository(root: root.path)
        let located = try #require(ModelRepository.locate(configFile: repository.configFile(id("good", 1))))
        #expect(located.repository.root == root.path && located.id == id("good", 1))
        #expect(ModelRepository.locate(configFile: "Models/../1/config.yaml") == nil)
        #expect(ModelRepository.locate(configFile: "Models/digits/01/config.yaml") == nil)
        #expect(ModelRepository.locate(configFile: "config.yaml") == nil)
    }
}
