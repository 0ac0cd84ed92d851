import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// Kernels against numbers worked out by hand (numpy gives the same).
@Suite struct OperatorTests {
    func node(_ op: String, _ attributes: [String: AttributeValue] = [:]) -> Node {
        Node(name: "n", opType: op, inputs: [], outputs: ["y"], attributes: attributes)
    }

    func run(_ op: String, _ inputs: [Tensor?], _ attributes: [String: AttributeValue] = [:], opset: Int = 13) throws -> Tensor {
        let kernel = try #require(Operators.kernel(for: op, opset: opset))
        return try kernel(node(op, attributes), inputs)[0]
    }

    @Test func gemmWithTransposedWeightsAlphaBetaAndBroadcastBias() throws {
        // A [2x2] · Bᵀ where B is [3x2]; C = [10, 20, 30] broadcast over rows.
        let a = Tensor(shape: [2, 2], floats: [1, 2, 3, 4])
        let b = Tensor(shape: [3, 2], floats: [1, 0, 0, 1, 1, 1])
        let c = Tensor(shape: [3], floats: [10, 20, 30])
        let y = try run("Gemm", [a, b, c], ["transB": .int(1), "alpha": .float(2), "beta": .float(0.5)])
        // A·Bᵀ = [[1,2,3],[3,4,7]]; ×2 = [[2,4,6],[6,8,14]]; + 0.5·C = +[5,10,15]
        #expect(y == Tensor(shape: [2, 3], floats: [7, 14, 21, 11, 18, 29]))
    }

    @Test func gemmRefusesMismatchedInnerDimensions() {
        #expect(throws: HedgerowError.self) {
            try run("Gemm", [Tensor(shape: [2, 3], floats: Array(repeating: 1, count: 6)), Tensor(shape: [2, 2], floats: [1, 2, 3, 4])])
        }
    }

    @Test func matMulFoldsLeadingDimensionsAndBroadcastsBatches() throws {
        let a = Tensor(shape: [2, 1, 2], floats: [1, 2, 3, 4])
        let w = Tensor(shape: [2, 2], floats: [1, 1, 0, 1])
        #expect(try run("MatMul", [a, w]) == Tensor(shape: [2, 1, 2], floats: [1, 3, 3, 7]))
        let batchB = Tensor(shape: [2, 2, 1], floats: [1, 1, 2, 0])
        #expect(try run("MatMul", [a, batchB]) == Tensor(shape: [2, 1, 1], floats: [3, 6]))
        let vector = Tensor(shape: [2], floats: [1, 1])
        #expect(try run("MatMul", [w, vector]) == Tensor(shape: [2], floats: [2, 1]))
    }

    @Test func addBroadcastsNumpyStyle() throws {
        let a = Tensor(shape: [2, 1], floats: [1, 2])
        let b = Tensor(shape: [1, 3], floats: [10, 20, 30])
        #expect(try run("Add", [a, b]) == Tensor(shape: [2, 3], floats: [11, 21, 31, 12, 22, 32]))
        #expect(throws: HedgerowError.self) { try run("Add", [Tensor(shape: [2], floats: [1, 2]), Tensor(shape: [3], floats: [1, 2, 3])]) }
    }

    @Test func activations() throws {
        let x = Tensor(shape: [3], floats: [-1, 0, 2])
        #expect(try run("Relu", [x]) == Tensor(shape: [3], floats: [0, 0, 2]))
        let s = try run("Sigmoid", [Tensor(shape: [2], floats: [0, -100])]).floats("")
        #expect(s[0] == 0.5 && s[1] >= 0 && s[1] < Float.leastNormalMagnitude / 100)  // e^-100 ≈ 3.7e-44, a subnormal
    }

    @Test func softmaxIsStableAndFollowsTheOpsetsAxisRules() throws {
        let x = Tensor(shape: [2, 2], floats: [1000, 1000, 0, Float(log(3.0))])
        let y = try run("Softmax", [x]).floats("")
        #expect(zip(y, [0.5, 0.5, 0.25, 0.75] as [Float]).allSatisfy { abs($0 - $1) < 1e-6 }, "\(y)")
        // Opset 13, axis 0: normalize down columns.
        let columns = try run("Softmax", [Tensor(shape: [2, 1], floats: [0, 0])], ["axis": .int(0)]).floats("")
        #expect(columns == [0.5, 0.5])
        // Before opset 13, axis 1 coerces [1,2,2] to [1,4]: one softmax over all four.
        let legacy = try run("Softmax", [Tensor(shape: [1, 2, 2], floats: [0, 0, 0, 0])], opset: 11).floats("")
        #expect(legacy == [0.25, 0.25, 0.25, 0.25])
    }

    @Test func flattenAndIdentity() throws {
        let x = Tensor(shape: [2, 3, 4], floats: (0..<24).map(Float.init))
        #expect(try run("Flatten", [x]).shape == [2, 12])
        #expect(try run("Flatten", [x], ["axis": .int(0)]).shape == [1, 24])
        #expect(try run("Flatten", [x], ["axis": .int(-1)]).shape == [6, 4])
        #expect(try run("Identity", [x]) == x)
    }
}

import Foundation
