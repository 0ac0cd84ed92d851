import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// Integer arithmetic wraps on overflow as numpy and onnxruntime do (two's complement), never traps; Cast of
/// values an integer cannot hold saturates.
@Suite struct ElementwiseTests {
    func int64(_ op: String, _ a: [Int64], _ b: [Int64]) throws -> [Int64] {
        try runKernel(op, [.ints(a), .ints(b)])[0].int64s("")
    }

    func int32(_ op: String, _ a: [Int32], _ b: [Int32]) throws -> [Int32] {
        let result = try runKernel(op, [Tensor(shape: [a.count], int32s: a), Tensor(shape: [b.count], int32s: b)])[0]
        guard case .int32(let values) = result.storage else { Issue.record("not int32"); return [] }
        return values
    }

    @Test func int64ArithmeticWraps() throws {
        #expect(try int64("Add", [.max, .min], [1, -1]) == [.min, .max])
        #expect(try int64("Sub", [.min, .max], [1, -1]) == [.max, .min])
        #expect(try int64("Mul", [.max, .min, 1 << 62], [2, -1, 4]) == [-2, .min, 0])
        #expect(try int64("Div", [.min, 7, -7], [-1, -2, 2]) == [.min, -3, -3])
        #expect(try runKernel("Neg", [.ints([.min, 5])])[0] == .ints([.min, -5]))
        #expect(try runKernel("Abs", [.ints([.min, -5])])[0] == .ints([.min, 5]))
        #expect(try runKernel("ReduceSum", [.ints([.max, 1]), .ints([0])])[0].int64s("") == [.min])
    }

    @Test func int32ArithmeticWraps() throws {
        #expect(try int32("Add", [.max], [1]) == [.min])
        #expect(try int32("Mul", [.max], [.max]) == [1])
        #expect(try int32("Div", [.min], [-1]) == [.min])
        #expect(try int32("Sub", [.min], [1]) == [.max])
        #expect(try runKernel("Neg", [Tensor(shape: [1], int32s: [.min])])[0] == Tensor(shape: [1], int32s: [.min]))
        #expect(try runKernel("Abs", [Tensor(shape: [1], int32s: [.min])])[0] == Tensor(shape: [1], int32s: [.min]))
    }

    @Test func integerPowAndClipNeverTrap() throws {
        let p = try runKernel("Pow", [.ints([.max, 2, -3, 0]), .ints([2, 70, 3, -1])])[0].int64s("")
        #expect(p[0] == .max && p[1] == .max && p[2] == -27 && p[3] == .max)
        #expect(try runKernel("Pow", [Tensor(shape: [2], int32s: [.max, 2]), Tensor(shape: [2], floats: [.nan, 40])])[0] == Tensor(shape: [2], int32s: [0, .max]))
        // Bounds of another type are converted to the input's (int64 → int32 wraps, as a Cast does).
        let clipped = try runKernel("Clip", [Tensor(shape: [2], int32s: [5, -5]), .ints([.min]), .ints([.max])])[0]
        #expect(clipped == Tensor(shape: [2], int32s: [-1, -1]))
        #expect(try runKernel("Clip", [Tensor(shape: [1], int32s: [5]), Tensor(shape: [], floats: [.nan]), Tensor(shape: [], floats: [1e30])])[0] == Tensor(shape: [1], int32s: [5]))
    }

    @Test func castOfValuesOutsideTheTargetRangeSaturates() throws {
        let x = Tensor(shape: [6], floats: [.nan, .infinity, -.infinity, 9.3e18, -9.3e18, 2.5])
        #expect(try runKernel("Cast", [x], ["to": .int(7)])[0] == .ints([0, .max, .min, .max, .min, 2]))
        #expect(try runKernel("Cast", [x], ["to": .int(6)])[0] == Tensor(shape: [6], int32s: [0, .max, .min, .max, .min, 2]))
        #expect(try runKernel("Cast", [.ints([.max, .min])], ["to": .int(6)])[0] == Tensor(shape: [2], int32s: [-1, 0]))
        for to in [Int.max, Int.min, -1, 0, 1 << 40] {
            #expect(kernelError("Cast", [x], ["to": .int(to)]) != nil)
        }
    }

    @Test func broadcastOutputsPastTheLimitAreRefused() throws {
        let a = Tensor.floats([1 << 15, 1]), b = Tensor.floats([1, 1 << 14])
        #expect(kernelError("Add", [a, b])?.message.contains("node 'n': shapes [32768, 1] and [1, 16384]: broadcast to [32768, 16384] is too large") == true)
        #expect(kernelError("Equal", [a, b]) != nil)
        #expect(kernelError("Where", [Tensor(shape: [1, 1], bools: [true]), a, b]) != nil)
        #expect(kernelError("Mul", [.ints([1, 2]), .ints([1, 2, 3])]) != nil)
    }
}
