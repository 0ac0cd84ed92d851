import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// Target shapes and axes are data: out of range, negative or overflowing, they are errors naming the node.
@Suite struct ShapeOperatorsTests {
    let x = Tensor.floats([2, 3])

    @Test func reshapeTargetsThatOverflowOrAreNegative() throws {
        #expect(kernelError("Reshape", [x, .ints([4_611_686_018_427_387_904, 8])])?.message.contains("node 'n' (Reshape): target shape [") == true)
        #expect(kernelError("Reshape", [x, .ints([-1, .max, 2])]) != nil)
        #expect(kernelError("Reshape", [x, .ints([-1, -1])]) != nil)
        #expect(kernelError("Reshape", [x, .ints([.min, 6])]) != nil)
        #expect(kernelError("Reshape", [x, .ints([0, 0, 0])]) != nil)
        // -1 next to a 0 kept as 0 (allowzero) cannot be inferred; without allowzero the 0 copies x's dimension.
        #expect(kernelError("Reshape", [Tensor.floats([0, 3]), .ints([-1, 0])], ["allowzero": .int(1)]) != nil)
        #expect(try runKernel("Reshape", [Tensor.floats([0, 3]), .ints([-1, 0])])[0].shape == [0, 3])
        #expect(try runKernel("Reshape", [x, .ints([-1, 2])])[0].shape == [3, 2])
        #expect(try runKernel("Reshape", [x, .ints([0, -1])])[0].shape == [2, 3])
    }

    @Test func expandAndConstantOfShapeRefuseWhatTheyCannotAllocate() throws {
        #expect(kernelError("Expand", [x, .ints([-2, 3])])?.message.contains("negative") == true)
        #expect(kernelError("Expand", [x, .ints([4_611_686_018_427_387_904, 2, 3])]) != nil)
        #expect(kernelError("Expand", [x, .ints([1 << 20, 1 << 20, 1])]) != nil)
        #expect(kernelError("Expand", [Tensor.floats([1, 1]), .ints([-1, -1])]) != nil)
        #expect(try runKernel("Expand", [x, .ints([2, 1, 1])])[0].shape == [2, 2, 3])
        #expect(kernelError("ConstantOfShape", [.ints([4_611_686_018_427_387_904, 8])])?.message.contains("node 'n' (ConstantOfShape): output shape") == true)
        #expect(kernelError("ConstantOfShape", [.ints([-1])]) != nil)
        #expect(kernelError("ConstantOfShape", [.ints([0, .max, .max])]) != nil)
        #expect(try runKernel("ConstantOfShape", [.ints([0, 5])])[0].shape == [0, 5])
    }

    @Test func axesOutOfRangeAreErrors() throws {
        for axis in [Int.min, Int.max, 2, -3] {
            #expect(kernelError("Squeeze", [Tensor.floats([1, 3]), .ints([Int64(axis)])]) != nil)
            #expect(kernelError("Flatten", [x], ["axis": .int(axis == 2 ? 3 : axis)]) != nil)
            #expect(kernelError("Softmax", [x], ["axis": .int(axis)]) != nil)
            #expect(kernelError("ArgMax", [x], ["axis": .int(axis)]) != nil)
            #expect(kernelError("ReduceSum", [x, .ints([Int64(axis)])]) != nil)
            #expect(kernelError("Gather", [x, .ints([0])], ["axis": .int(axis)]) != nil)
            #expect(kernelError("Concat", [x, x], ["axis": .int(axis)]) != nil)
            #expect(kernelError("Split", [x], ["axis": .int(axis)], outputs: ["a", "b"]) != nil)
        }
        #expect(kernelError("Unsqueeze", [x, .ints([.max])]) != nil)
        #expect(kernelError("Unsqueeze", [x, .ints([.min])]) != nil)
        #expect(kernelError("Unsqueeze", [x, .ints([0, 0])]) != nil)
        #expect(try runKernel("Unsqueeze", [x, .ints([0, -1])])[0].shape == [1, 2, 3, 1])
        #expect(try runKernel("Flatten", [x], ["axis": .int(2)])[0].shape == [6, 1])
        #expect(kernelError("Unsqueeze", [x, Tensor(shape: [100], int64s: Array(0..<100))]) != nil)  // rank past the limit
    }
}
