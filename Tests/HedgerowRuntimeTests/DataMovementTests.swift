import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// Slice, Split, Gather, Concat and Transpose on data chosen to overflow their index arithmetic.
@Suite struct DataMovementTests {
    let x = Tensor(shape: [10], floats: (0..<10).map(Float.init))

    func slice(_ starts: Int64, _ ends: Int64, _ steps: Int64) throws -> [Float] {
        try runKernel("Slice", [x, .ints([starts]), .ints([ends]), .ints([0]), .ints([steps])])[0].floats("")
    }

    /// numpy: x[start:end:step] with Python's clamping.
    @Test func sliceClampsExtremeStartsEndsAndSteps() throws {
        #expect(try slice(.min, .max, 1) == (0..<10).map(Float.init))
        #expect(try slice(0, .max, .max) == [0])
        #expect(try slice(.max, .min, -1) == (0..<10).reversed().map(Float.init))
        #expect(try slice(.max, .min, .min) == [9])
        #expect(try slice(-1, .min, -3) == [9, 6, 3, 0])
        #expect(try slice(.min, .min, 1) == [])
        #expect(try slice(.max, .max, -1) == [])
        #expect(try slice(3, .max, 4) == [3, 7])
        #expect(kernelError("Slice", [x, .ints([0]), .ints([1]), .ints([0]), .ints([0])]) != nil)
        #expect(kernelError("Slice", [x, .ints([0]), .ints([1]), .ints([.max])]) != nil)
        let empty = Tensor.floats([0, 3])
        #expect(try runKernel("Slice", [empty, .ints([.min]), .ints([.max]), .ints([0]), .ints([.min])])[0].shape == [0, 3])
    }

    @Test func splitSizesAreChecked() throws {
        let outputs = ["a", "b"]
        #expect(kernelError("Split", [x, .ints([.max, 1])], outputs: outputs) != nil)
        #expect(kernelError("Split", [x, .ints([.max, .max])], outputs: outputs) != nil)
        #expect(kernelError("Split", [x, .ints([11, -1])], outputs: outputs) != nil)
        #expect(kernelError("Split", [x, .ints([5, 5, 0])], outputs: outputs) != nil)
        #expect(kernelError("Split", [x], ["num_outputs": .int(.max)], outputs: outputs) != nil)
        #expect(kernelError("Split", [x], ["num_outputs": .int(.min)], outputs: outputs) != nil)
        #expect(try runKernel("Split", [x, .ints([3, 7])], outputs: outputs).map(\.shape) == [[3], [7]])
        #expect(try runKernel("Split", [x], ["num_outputs": .int(3)], outputs: ["a", "b", "c"]).map(\.shape) == [[4], [4], [2]])
    }

    @Test func outputsBiggerThanTheLimitAreRefusedBeforeAllocating() throws {
        // Small inputs whose output would be 2^29 elements.
        let table = Tensor.floats([1, 1 << 14])
        let ids = Tensor(shape: [1 << 15], int64s: [Int64](repeating: 0, count: 1 << 15))
        #expect(kernelError("Gather", [table, ids])?.message.contains("node 'n' (Gather): output shape [32768, 16384] is too large") == true)
        let wide = Tensor(shape: [0, 1 << 28], floats: [])
        #expect(kernelError("Concat", [wide, wide], ["axis": .int(1)])?.message.contains("too large") == true)
        #expect(try runKernel("Concat", [wide, wide], ["axis": .int(0)])[0].shape == [0, 1 << 28])
        #expect(kernelError("Gather", [Tensor.floats([0]), .ints([0])]) != nil)
        #expect(kernelError("Gather", [x, .ints([.min])]) != nil)
        #expect(kernelError("Gather", [x, .ints([.max])]) != nil)
    }

    @Test func transposePermutationsAreChecked() throws {
        let m = Tensor.floats([2, 3])
        for perm in [[0, 0], [0, 2], [Int.min, 1], [Int.max, 0], [1], [1, 0, 2]] {
            #expect(kernelError("Transpose", [m], ["perm": .ints(perm)]) != nil)
        }
        #expect(try runKernel("Transpose", [m], ["perm": .ints([1, 0])])[0].shape == [3, 2])
    }
}
