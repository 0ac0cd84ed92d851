import Foundation
import HedgerowCore
@testable import HedgerowWorker
import Logging
import NIOPosix
import Testing

/// The golden-output gate in the model manager: a version with a good `reference.json` becomes AVAILABLE, one
/// without becomes AVAILABLE unless the desired state requires one, and a `reference.json` that links out of its
/// version directory is refused like a model that does.
@Suite(.serialized) struct ModelManagerReferenceTests {
    static let digits = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Models/digits/1")

    @Test func theGateDecidesWhatBecomesAvailable() async throws {
        let fm = FileManager.default
        let scratch = fm.temporaryDirectory.appendingPathComponent("hedgerow-reference-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: scratch) }
        let root = scratch.appendingPathComponent("repo")
        for model in ["golden", "plain", "required", "linked"] {
            try fm.createDirectory(at: root.appendingPathComponent("\(model)/1"), withIntermediateDirectories: true)
            try fm.copyItem(at: Self.digits.appendingPathComponent("model.onnx"), to: root.appendingPathComponent("\(model)/1/model.onnx"))
        }
        try fm.copyItem(at: Self.digits.appendingPathComponent("reference.json"), to: root.appendingPathComponent("golden/1/reference.json"))
        try fm.copyItem(at: Self.digits.appendingPathComponent("reference.json"), to: scratch.appendingPathComponent("outside.json"))
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("linked/1/reference.json").path, withDestinationPath: scratch.appendingPathComponent("outside.json").path)

        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let manager = ModelManager(repository: ModelRepository(root: root.path), inferencePool: pool, logger: Logger(label: "test"))
        func id(_ model: String) throws -> ModelVersionID { ModelVersionID(model: try ModelName(model), version: try ModelVersion(1)) }
        _ = try manager.load(try id("golden"), requireReference: true)
        _ = try manager.load(try id("plain"))
        _ = try manager.load(try id("required"), requireReference: true)
        _ = try manager.load(try id("linked"))
        let states = try await manager.settledStates()
        #expect(states["golden"]?.state == .available)
        #expect(states["plain"]?.state == .available)
        #expect(states["required"]?.state == .failed)
        #expect(states["required"]?.error == "no reference.json in required/1/, and the desired state requires one (validation: { required: true })")
        #expect(states["linked"]?.state == .failed)
        #expect(states["linked"]?.error?.contains("reference.json: it is a link that resolves outside its version directory") == true, "\(String(describing: states["linked"]))")
        await manager.shutdown()
        try await pool.shutdownGracefully()
    }
}
