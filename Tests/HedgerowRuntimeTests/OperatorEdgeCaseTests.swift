import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// What the ONNX 1.12 node tests do not cover: operators newer than them (Gelu), casts between the types the
/// runtime computes with, and bad request data that must be a clear 400, never a trap or a read out of bounds.
@Suite struct OperatorEdgeCaseTests {
    func run(_ op: String, _ inputs: [Tensor?], _ attributes: [String: AttributeValue] = [:], outputs: [String] = ["y"], opset: Int = 20) throws -> [Tensor] {
        let kernel = try #require(Operators.kernel(for: op, opset: opset))
        return try kernel(Node(name: "n", opType: op, inputs: [], outputs: outputs, attributes: attributes), inputs)
    }

    @Test func geluExactAndTanhApproximation() throws {
        let x = Tensor(shape: [3], floats: [-1, 0, 1])
        let exact = try run("Gelu", [x])[0].floats("")
        let approximate = try run("Gelu", [x], ["approximate": .string("tanh")])[0].floats("")
        // References: 0.5·x·(1 + erf(x/√2)) and the tanh form, computed in double precision.
        for (got, want) in zip(exact, [-0.158_655_25, 0, 0.841_344_75] as [Float]) { #expect(abs(got - want) < 1e-6) }
        for (got, want) in zip(approximate, [-0.158_808, 0, 0.841_192] as [Float]) { #expect(abs(got - want) < 1e-5) }
        #expect(throws: HedgerowError.self) { try run("Gelu", [x], ["approximate": .string("fast")]) }
    }

    @Test func castSaturatesInsteadOfTrapping() throws {
        let x = Tensor(shape: [5], floats: [.nan, .infinity, -.infinity, -2.7, 3e9])
        #expect(try run("Cast", [x], ["to": .int(7)])[0] == Tensor(shape: [5], int64s: [0, .max, .min, -2, 3_000_000_000]))
        #expect(try run("Cast", [x], ["to": .int(6)])[0] == Tensor(shape: [5], int32s: [0, .max, .min, -2, .max]))
        #expect(try run("Cast", [Tensor(shape: [2], int64s: [0, 5])], ["to": .int(9)])[0] == Tensor(shape: [2], bools: [false, true]))
        #expect(try run("Cast", [Tensor(shape: [2], bools: [true, false])], ["to": .int(1)])[0] == Tensor(shape: [2], floats: [1, 0]))
        // float16 and bfloat16 are computed as float32 but keep only what they hold; 3e9 is past float16's range.
        let half = try run("Cast", [x], ["to": .int(10)])[0].floats("")
        #expect(half[0].isNaN && half[1] == .infinity && half[2] == -.infinity && half[3] == -2.69921875 && half[4] == .infinity)
        #expect(try run("Cast", [Tensor(shape: [2], floats: [1.00390625, 3e9])], ["to": .int(16)])[0].floats("") == [1, 3_003_121_664])
        #expect(throws: HedgerowError(.badRequest, "node 'n' (Cast): casting to uint8 is not supported")) {
            try run("Cast", [x], ["to": .int(2)])
        }
    }

    @Test func anEmbeddingIdOutOfRangeIsA400() throws {
        let table = Tensor(shape: [3, 2], floats: [0, 1, 10, 11, 20, 21])
        #expect(try run("Gather", [table, Tensor(shape: [2], int64s: [2, -3])])[0] == Tensor(shape: [2, 2], floats: [20, 21, 0, 1]))
        #expect(throws: HedgerowError(.badRequest, "node 'n' (Gather): index 3 is out of range for axis 0 of size 3")) {
            try run("Gather", [table, Tensor(shape: [1], int64s: [3])])
        }
        #expect(throws: HedgerowError.self) { try run("Gather", [table, Tensor(shape: [1], int64s: [.min])]) }
    }

    @Test func integerDivisionByZeroIsA400() {
        #expect(throws: HedgerowError(.badRequest, "node 'n' (Div): integer division by zero")) {
            try run("Div", [Tensor(shape: [2], int64s: [4, 5]), Tensor(shape: [2], int64s: [2, 0])])
        }
    }

    @Test func whereBroadcastsItsThreeOperands() throws {
        let condition = Tensor(shape: [2, 1], bools: [true, false])
        let y = try run("Where", [condition, Tensor(shape: [3], int64s: [1, 2, 3]), Tensor(shape: [], int64s: [0])])[0]
        #expect(y == Tensor(shape: [2, 3], int64s: [1, 2, 3, 0, 0, 0]))
    }

    @Test func maxPoolIndicesAndLegacyBroadcast() throws {
        let x = Tensor(shape: [1, 1, 2, 2], floats: [1, 4, 3, 2])
        let pooled = try run("MaxPool", [x], ["kernel_shape": .ints([2, 2])], outputs: ["y", "i"])
        #expect(pooled[0] == Tensor(shape: [1, 1, 1, 1], floats: [4]))
        #expect(pooled[1] == Tensor(shape: [1, 1, 1, 1], int64s: [1]))
        // Opset 6: B aligned at axis 1 of A with `broadcast: 1`.
        let a = Tensor(shape: [2, 3, 2], floats: Array(repeating: 0, count: 12)), b = Tensor(shape: [3], floats: [1, 2, 3])
        let sum = try run("Add", [a, b], ["broadcast": .int(1), "axis": .int(1)], opset: 6)[0]
        #expect(sum == Tensor(shape: [2, 3, 2], floats: [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]))
    }

    @Test func badShapesNameTheNode() {
        #expect(throws: HedgerowError(.badRequest, "node 'n' (Reshape): cannot reshape [2, 3] (6 values) to [4]")) {
            try run("Reshape", [Tensor(shape: [2, 3], floats: Array(repeating: 0, count: 6)), Tensor(shape: [1], int64s: [4])])
        }
        #expect(throws: HedgerowError.self) {
            try run("Concat", [Tensor(shape: [1, 2], floats: [0, 0]), Tensor(shape: [1, 3], floats: [0, 0, 0])], ["axis": .int(0)])
        }
    }

    /// Sizes that come from a model or a request and would allocate past the limits, or loop forever, are refused
    /// with a message before anything is built.
    @Test func hostileSizesForTheNewOperatorsAreRefused() throws {
        let one = Tensor(shape: [1], floats: [1])
        func refused(_ op: String, _ inputs: [Tensor?], _ attributes: [String: AttributeValue] = [:], _ message: String) {
            do { _ = try run(op, inputs, attributes); Issue.record("\(op) accepted") } catch {
                #expect((error as? HedgerowError)?.message.contains(message) == true, "\(op): \(error)")
            }
        }
        refused("Range", [Tensor(shape: [], int64s: [.min]), Tensor(shape: [], int64s: [.max]), Tensor(shape: [], int64s: [1])], [:], "overflows")
        refused("Range", [Tensor(shape: [], floats: [0]), Tensor(shape: [], floats: [1e30]), Tensor(shape: [], floats: [1])], [:], "more than")
        refused("Range", [Tensor(shape: [], floats: [0]), Tensor(shape: [], floats: [1]), Tensor(shape: [], floats: [0])], [:], "delta must not be 0")
        refused("Tile", [one, Tensor.ints([Int64(Int.max / 2)])], [:], "repeats")
        refused("Tile", [one, Tensor.ints([1 << 29])], [:], "repeats")
        refused("Pad", [one, Tensor.ints([1 << 40, 0])], [:], "out of range")
        refused("Pad", [one, Tensor.ints([-3, 0])], [:], "crop more")
        refused("Resize", [Tensor(shape: [1, 1], floats: [1]), nil, Tensor(shape: [2], floats: [1, 3e38])], [:], "too large")
        refused("Resize", [Tensor(shape: [1, 1], floats: [1]), nil, nil, Tensor.ints([1, 1 << 40])], [:], "sizes")
        refused("TopK", [Tensor(shape: [3], floats: [1, 2, 3]), Tensor.ints([4])], [:], "k = 4")
        refused("Einsum", [Tensor.floats([2048, 2048]), Tensor.floats([2048, 2048])], ["equation": .string("ij,jk->ik")], "steps")
        refused("Einsum", [one], ["equation": .string("ij->i")], "does not match")
        refused("LSTM", [Tensor.floats([1, 1, 2]), Tensor.floats([1, 8, 2]), Tensor.floats([1, 8, 2])], ["hidden_size": .int(3)], "W [1, 8, 2]")
        refused("ConvTranspose", [Tensor.floats([1, 1, 2, 2]), Tensor.floats([1, 1, 2, 2])], ["strides": .ints([1 << 29, 1])], "strides")
        refused("ConvTranspose", [Tensor.floats([1, 1, 2, 2]), Tensor.floats([1, 1, 2, 2])], ["output_shape": .ints([1 << 20, 1 << 20])], "output")
    }
}
