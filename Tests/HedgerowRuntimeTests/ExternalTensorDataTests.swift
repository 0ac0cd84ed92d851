import Foundation
import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// Initializers stored as ONNX external data: the same outputs as the model with its weights inside, only the
/// named bytes read, and every entry of a hostile model refused by name.
@Suite struct ExternalTensorDataTests {
    typealias F = ModelFixtures

    /// A directory holding `model.onnx` (y = x + w, w external) and `weights.bin`, removed by the caller.
    private func model(entries: [(String, String)], weights: Data = Self.weights, name: String = "weights.bin") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hedgerow-external-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try weights.write(to: URL(fileURLWithPath: "\(directory)/\(name)"))
        var tensor = F.floatTensor("w", [3], [])
        tensor.dataLocation = .external
        tensor.externalData = entries.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        let data = try F.model(nodes: [F.node("Add", ["x", "w"], ["y"])], inputs: [F.valueInfo("x", [3])], outputs: [F.valueInfo("y", [3])], initializers: [tensor])
        try data.write(to: URL(fileURLWithPath: "\(directory)/model.onnx"))
        return directory
    }

    /// 8 bytes of padding, then 1, 2, 3 as float32, then 4 more bytes.
    static let weights: Data = {
        var bytes = Data(repeating: 0xEE, count: 8)
        for value: Float in [1, 2, 3] { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        bytes.append(Data(repeating: 0xEE, count: 4))
        return bytes
    }()

    private func refusal(_ directory: String) -> String? {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            _ = try ModelLoader.load(contentsOf: "\(directory)/model.onnx")
            return nil
        } catch {
            #expect(error.kind == .loadFailed)
            return error.message
        }
    }

    @Test func externalWeightsGiveTheSameOutputsAsInlineOnes() throws {
        let directory = try model(entries: [("location", "weights.bin"), ("offset", "8"), ("length", "12")])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let graph = try ModelLoader.load(contentsOf: "\(directory)/model.onnx")
        let outputs = try graph.run(["x": Tensor(shape: [3], floats: [10, 20, 30])])
        #expect(outputs["y"] == Tensor(shape: [3], floats: [11, 22, 33]))
        // No length: the shape says how many bytes; a subdirectory is fine.
        let nested = try model(entries: [("location", "data/w.bin"), ("offset", "8")], name: "w.bin")
        defer { try? FileManager.default.removeItem(atPath: nested) }
        try FileManager.default.createDirectory(atPath: "\(nested)/data", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: "\(nested)/w.bin", toPath: "\(nested)/data/w.bin")
        #expect(try ModelLoader.load(contentsOf: "\(nested)/model.onnx").run(["x": Tensor(shape: [3], floats: [0, 0, 0])])["y"] == Tensor(shape: [3], floats: [1, 2, 3]))
    }

    @Test func hostileEntriesAreRefusedByName() throws {
        let cases: [([(String, String)], String)] = [
            ([("location", "../weights.bin")], "must be a path inside the model's directory"),
            ([("location", "/etc/passwd")], "must be a path inside the model's directory"),
            ([("location", "missing.bin")], "does not exist beside the model"),
            ([("offset", "8")], "external_data has no 'location'"),
            ([("location", "weights.bin"), ("offset", "-8")], "'offset' is '-8', not a byte count"),
            ([("location", "weights.bin"), ("offset", "9223372036854775807")], "at offset 9223372036854775807 needs 12 bytes but 'weights.bin' has 24"),
            ([("location", "weights.bin"), ("offset", "99999999999999999999")], "not a byte count"),
            ([("location", "weights.bin"), ("offset", "16")], "at offset 16 needs 12 bytes but 'weights.bin' has 24"),
            ([("location", "weights.bin"), ("length", "8")], "'length' is 8 bytes but shape [3] of float32 needs 12"),
            ([("location", "weights.bin"), ("location", "weights.bin")], "names 'location' twice"),
        ]
        for (entries, expected) in cases {
            let message = refusal(try model(entries: entries))
            #expect(message?.contains(expected) == true, "\(entries): \(message ?? "loaded")")
            #expect(message?.contains("initializer 'w'") == true)
        }
    }

    @Test func aLinkOutOfTheModelDirectoryIsRefused() throws {
        let directory = try model(entries: [("location", "link.bin")])
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("hedgerow-outside-\(UUID().uuidString).bin").path
        try Self.weights.write(to: URL(fileURLWithPath: outside))
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try FileManager.default.createSymbolicLink(atPath: "\(directory)/link.bin", withDestinationPath: outside)
        #expect(refusal(directory)?.contains("is a link that resolves outside the model's directory") == true)
        let fifo = try model(entries: [("location", "pipe")])
        #expect(mkfifo("\(fifo)/pipe", 0o600) == 0)
        #expect(refusal(fifo)?.contains("is not a regular file") == true)
    }
}
