import HedgerowCore
@testable import HedgerowRuntime
import Testing

@Suite struct LinearAlgebraTests {
    @Test func productsPastTheLimitAreRefusedBeforeAllocating() throws {
        let column = Tensor.floats([1 << 15, 1]), row = Tensor.floats([1, 1 << 14])
        #expect(kernelError("MatMul", [column, row])?.message.contains("node 'n' (MatMul): output shape [32768, 16384] is too large") == true)
        #expect(kernelError("Gemm", [column, row])?.message.contains("node 'n' (Gemm): output shape") == true)
        #expect(kernelError("MatMul", [Tensor.floats([1 << 10, 1 << 10, 1, 1]), Tensor.floats([1, 1 << 10, 1, 1 << 9])]) != nil)
    }

    @Test func scalarsAndMismatchesAreErrors() throws {
        #expect(kernelError("MatMul", [Tensor(shape: [], floats: [1]), Tensor.floats([1])]) != nil)
        #expect(kernelError("MatMul", [Tensor.floats([2]), Tensor(shape: [], floats: [1])]) != nil)
        #expect(kernelError("MatMul", [Tensor.floats([2, 3]), Tensor.floats([2, 3])]) != nil)
        #expect(kernelError("Gemm", [Tensor.floats([2, 3]), Tensor.floats([3, 2]), Tensor.floats([5, 2, 2])]) != nil)
        #expect(try runKernel("MatMul", [Tensor.floats([3]), Tensor.floats([3], 1)])[0].shape == [])
        #expect(try runKernel("MatMul", [Tensor.floats([0, 3]), Tensor.floats([3, 4])])[0].shape == [0, 4])
    }
}
