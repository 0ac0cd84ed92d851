import HedgerowCore
@testable import HedgerowRuntime
import Testing

@Suite struct TensorLimitsTests {
    @Test func validShapesAreCountedAndTheRestRefused() {
        #expect(TensorLimits.validCount([]) == 1)
        #expect(TensorLimits.validCount([2, 3]) == 6)
        #expect(TensorLimits.validCount([0, 1 << 28]) == 0)
        #expect(TensorLimits.validCount([1 << 28]) == 1 << 28)
        #expect(TensorLimits.validCount([(1 << 28) + 1]) == nil)
        #expect(TensorLimits.validCount([0, 1 << 29]) == nil)  // empty, but its strides would be too large
        #expect(TensorLimits.validCount([4_611_686_018_427_387_904, 8]) == nil)
        #expect(TensorLimits.validCount([Int.max, Int.max]) == nil)
        #expect(TensorLimits.validCount([-1]) == nil)
        #expect(TensorLimits.validCount([Int.min, 0]) == nil)
        #expect(TensorLimits.validCount([Int](repeating: 1, count: 64)) == 1)
        #expect(TensorLimits.validCount([Int](repeating: 1, count: 65)) == nil)
    }

    @Test func refusalsNameWhatAndTheShape() {
        #expect(throws: HedgerowError(.badRequest, "input 'x': shape [2, -3] has a negative dimension (-3)")) {
            try TensorLimits.count([2, -3], what: "input 'x'")
        }
        #expect(throws: HedgerowError(.loadFailed, "w: shape [1073741824] is too large (a tensor holds at most 268435456 elements)")) {
            try TensorLimits.count([1 << 30], what: "w", kind: .loadFailed)
        }
        #expect(TensorLimits.describe(Array(0..<100)) == "[0, 1, 2, 3, 4, 5, 6, 7, … (100 values)]")
    }

    @Test func tensorsFromOutsideAreValidatedNotTrapped() throws {
        #expect(try Tensor(validating: [2], storage: .float32([1, 2]), what: "x").shape == [2])
        #expect(throws: HedgerowError(.badRequest, "x: shape [3] needs 3 values, got 2")) { try Tensor(validating: [3], storage: .float32([1, 2]), what: "x") }
        #expect(throws: HedgerowError.self) { try Tensor(validating: [-1, -2], storage: .float32([1, 2]), what: "x") }
        #expect(throws: HedgerowError.self) { try Tensor(validating: [0, Int.max, Int.max], storage: .float32([]), what: "x") }
        #expect(Tensor.product([0, Int.max, Int.max]) == 0)
        #expect(Tensor.product([Int.max, 2]) == nil)
        #expect(Tensor.product([-1, -1]) == nil)
    }

    @Test func aRunRefusesFeedsOfInvalidShape() throws {
        let graph = try ModelLoader.load(try ModelFixtures.model(
            nodes: [ModelFixtures.node("Relu", ["x"], ["y"])],
            inputs: [ModelFixtures.valueInfo("x", [nil, nil])], outputs: [ModelFixtures.valueInfo("y", [nil, nil])]
        ))
        #expect(throws: HedgerowError(.badRequest, "input 'x': shape [0, 536870912] is too large (a tensor holds at most 268435456 elements)")) {
            try graph.run(["x": Tensor(shape: [0, 1 << 29], floats: [])])
        }
    }
}
