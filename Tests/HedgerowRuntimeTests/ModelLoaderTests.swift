import Foundation
import HedgerowCore
@testable import HedgerowRuntime
import Testing

@Suite struct ModelLoaderTests {
    @Test func digitsModelMatchesOnnxruntimeReferenceOutputs() throws {
        let root = ModelFixtures.repositoryRoot.path
        let graph = try ModelLoader.load(contentsOf: "\(root)/Models/digits/1/model.onnx")
        #expect(graph.inputs.map(\.name) == ["input"])
        #expect(graph.inputs[0].metadataShape == [-1, 64])
        #expect(graph.outputs.map(\.name) == ["probabilities"])

        let testset = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(root)/Models/digits/testset.json"))) as! [String: Any]
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(root)/Models/digits/1/reference.json"))) as! [String: Any]
        let rows = (testset["inputs"] as! [[Double]]).map { $0.map(Float.init) }
        let expected = ((reference["outputs"] as! [String: Any])["probabilities"] as! [[Double]])
        // The whole test set as one batch: one GEMM per layer.
        let result = try graph.run(["input": Tensor(shape: [rows.count, 64], floats: rows.flatMap { $0 })])
        let probabilities = try #require(result["probabilities"])
        #expect(probabilities.shape == [rows.count, 10])
        let values = try probabilities.floats("probabilities")
        var worst: Float = 0
        for (r, row) in expected.enumerated() {
            for (c, value) in row.enumerated() { worst = max(worst, abs(values[r * 10 + c] - Float(value))) }
        }
        #expect(worst < 1e-5, "largest difference from onnxruntime: \(worst)")
    }

    @Test func unsupportedOperatorFailsTheLoadNamingOpAndNode() throws {
        let data = try ModelFixtures.model(
            nodes: [ModelFixtures.node("Relu", ["x"], ["y"], name: "first"), ModelFixtures.node("NonMaxSuppression", ["y"], ["z"], name: "nms_1")],
            inputs: [ModelFixtures.valueInfo("x", [nil, 4])], outputs: [ModelFixtures.valueInfo("z", [nil, 4])]
        )
        #expect(throws: HedgerowError(.loadFailed, "model: unsupported operator 'NonMaxSuppression' in node 'nms_1'")) {
            try ModelLoader.load(data)
        }
    }

    @Test func cyclesAndDanglingInputsAreLoadErrors() throws {
        let cycle = try ModelFixtures.model(
            nodes: [ModelFixtures.node("Relu", ["b"], ["a"], name: "n1"), ModelFixtures.node("Relu", ["a"], ["b"], name: "n2"),
                    ModelFixtures.node("Identity", ["x"], ["y"], name: "n3")],
            inputs: [ModelFixtures.valueInfo("x", [1])], outputs: [ModelFixtures.valueInfo("y", [1])]
        )
        #expect(throws: HedgerowError.self) { try ModelLoader.load(cycle) }
        let dangling = try ModelFixtures.model(
            nodes: [ModelFixtures.node("Add", ["x", "ghost"], ["y"], name: "adder")],
            inputs: [ModelFixtures.valueInfo("x", [1])], outputs: [ModelFixtures.valueInfo("y", [1])]
        )
        #expect(throws: HedgerowError(.loadFailed, "model: node 'adder' (Add) reads 'ghost', which no node, input or initializer provides")) {
            try ModelLoader.load(dangling)
        }
    }

    @Test func corruptFilesAndOldOpsetsAreRefused() throws {
        #expect(throws: HedgerowError.self) { try ModelLoader.load(Data([0x08, 0xff, 0xff, 0xff])) }
        let old = try ModelFixtures.model(nodes: [ModelFixtures.node("Relu", ["x"], ["y"])], inputs: [ModelFixtures.valueInfo("x", [1])], outputs: [ModelFixtures.valueInfo("y", [1])], opset: 22)
        #expect(throws: HedgerowError(.loadFailed, "model uses default-domain opset 22; Hedgerow supports opsets 1 to 21 (re-export with one of them)")) {
            try ModelLoader.load(old)
        }
    }

    @Test func inputsAreCheckedByShapeAndTypeWithTheirNames() throws {
        let graph = try ModelLoader.load(try ModelFixtures.model(
            nodes: [ModelFixtures.node("Relu", ["x"], ["y"])],
            inputs: [ModelFixtures.valueInfo("x", [nil, 3])], outputs: [ModelFixtures.valueInfo("y", [nil, 3])]
        ))
        #expect(throws: HedgerowError(.badRequest, "input 'x': expected shape [N, 3], got [2, 4]")) {
            try graph.run(["x": Tensor(shape: [2, 4], floats: Array(repeating: 0, count: 8))])
        }
        #expect(throws: HedgerowError(.badRequest, "input 'x': expected datatype FP32, got INT64")) {
            try graph.run(["x": Tensor(shape: [1, 3], int64s: [1, 2, 3])])
        }
        #expect(throws: HedgerowError.self) { try graph.run([:]) }
    }
}
