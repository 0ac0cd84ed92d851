import Foundation
import HedgerowCore
import HedgerowHTTP
@testable import HedgerowWorker
import Logging
import NIOCore
import NIOPosix
import Testing

/// A worker asked to load a version whose files lead out of the repository refuses it: the load fails with a
/// message naming the version, and the target file is never parsed.
@Suite(.serialized) struct ModelLoadLinkTests {
    static let digits = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Models/digits/1/model.onnx")

    /// `good/1` (a copy of digits), `passwd/1/model.onnx -> /etc/passwd`, `cfg/1` with `config.yaml` linking out,
    /// `escaped/1 -> a directory outside holding a real model`.
    static func makeRepository() throws -> (scratch: URL, root: URL) {
        let fm = FileManager.default
        let scratch = fm.temporaryDirectory.appendingPathComponent("hedgerow-load-links-\(UUID().uuidString)")
        let root = scratch.appendingPathComponent("repo"), outside = scratch.appendingPathComponent("outside")
        for directory in ["repo/good/1", "repo/passwd/1", "repo/cfg/1", "repo/escaped", "outside"] {
            try fm.createDirectory(at: scratch.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        try fm.copyItem(at: digits, to: root.appendingPathComponent("good/1/model.onnx"))
        try fm.copyItem(at: digits, to: root.appendingPathComponent("cfg/1/model.onnx"))
        try fm.copyItem(at: digits, to: outside.appendingPathComponent("model.onnx"))
        try "batching: { maxBatchSize: 2 }\n".write(to: outside.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("passwd/1/model.onnx").path, withDestinationPath: "/etc/passwd")
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("cfg/1/config.yaml").path, withDestinationPath: outside.appendingPathComponent("config.yaml").path)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("escaped/1").path, withDestinationPath: outside.path)
        return (scratch, root)
    }

    @Test func configReadingVetsTheWholeVersionDirectory() throws {
        let (scratch, root) = try Self.makeRepository()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let repository = ModelRepository(root: root.path)
        func id(_ model: String) -> ModelVersionID { ModelVersionID(model: try! ModelName(model), version: try! ModelVersion(1)) }
        #expect(try ModelConfig.load(contentsOf: repository.configFile(id("good"))) == ModelConfig())
        for model in ["passwd", "cfg", "escaped"] {
            let error = #expect(throws: HedgerowError.self) { try ModelConfig.load(contentsOf: repository.configFile(id(model))) }
            #expect(error?.message.contains("resolves outside") == true, "\(model): \(error?.message ?? "")")
        }
    }

    @Test func theModelManagerFailsTheLoadOfAVersionThatLinksOut() async throws {
        let (scratch, root) = try Self.makeRepository()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let manager = ModelManager(repository: ModelRepository(root: root.path), inferencePool: pool, logger: Logger(label: "test"))
        for model in ["good", "passwd", "cfg", "escaped"] {
            try manager.load(ModelVersionID(model: try ModelName(model), version: try ModelVersion(1)))
        }
        let states = try await manager.settledStates()
        #expect(states["good"]?.state == .available)
        for model in ["passwd", "cfg", "escaped"] {
            #expect(states[model]?.state == .failed, "\(model): \(String(describing: states[model]))")
            #expect(states[model]?.error?.contains("resolves outside") == true)
            #expect(states[model]?.error?.contains(scratch.path) == false)
        }
        await manager.shutdown()
        try await pool.shutdownGracefully()
    }
}

extension ModelManager {
    /// Each model's report once no load is running any more (bounded: 60 s).
    func settledStates() async throws -> [String: LoadedModelVersion] {
        let deadline = ContinuousClock.now + .seconds(60)
        var report = self.report()
        while report.contains(where: { $0.state == .loading }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            report = self.report()
        }
        return Dictionary(uniqueKeysWithValues: report.map { ($0.model, $0) })
    }
}
