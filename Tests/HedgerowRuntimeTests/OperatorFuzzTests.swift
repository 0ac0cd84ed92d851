import Foundation
import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// Every supported operator, at every opset where its kernel changes, on random small tensors of every element
/// type (dimensions of 0 included) with random attributes drawn from hostile integers: each call must return or
/// throw a `HedgerowError`. A trap kills the test process. Deterministic (fixed seed); set
/// HEDGEROW_FUZZ_TRACE=1 to print each case before it runs.
@Suite struct OperatorFuzzTests {
    typealias Random = ModelMutationTests.Random

    static let trace = ProcessInfo.processInfo.environment["HEDGEROW_FUZZ_TRACE"] != nil
    /// Hostile integers, and sizes just past the limit; not sizes at it, which are valid and would make each case
    /// allocate a gigabyte.
    static let integers: [Int] = [0, 1, 2, 3, -1, -2, -3, .max, .min, 1 << 62, (1 << 28) + 1, 1 << 31, -(1 << 31), 1 << 14, 64, 65]
    static let attributeNames = [
        "axis", "axes", "perm", "keepdims", "kernel_shape", "strides", "pads", "dilations", "group", "split", "num_outputs",
        "starts", "ends", "steps", "shape", "allowzero", "to", "transA", "transB", "ceil_mode", "count_include_pad",
        "storage_order", "select_last_index", "noop_with_empty_axes", "start", "end", "broadcast", "training_mode",
        "value_int", "value_ints", "mode", "coordinate_transformation_mode", "nearest_mode", "exclude_outside", "hidden_size",
        "direction", "layout", "equation", "k", "largest", "sorted", "output_padding", "output_shape", "auto_pad", "activations",
        "input_forget", "linear_before_reset", "keep_aspect_ratio_policy", "alpha", "beta", "epsilon",
    ]

    static func tensor(_ random: inout Random) -> Tensor {
        let rank = random.below(5)
        let shape = (0..<rank).map { _ in random.pick([0, 1, 1, 2, 2, 3, 4]) }
        let count = shape.reduce(1, *)
        switch random.below(6) {
        case 0, 1, 2: return Tensor(shape: shape, floats: (0..<count).map { _ in random.pick([0, 1, -1, 0.5, .nan, .infinity, -.infinity, 3e38]) })
        case 3: return Tensor(shape: shape, int64s: (0..<count).map { _ in Int64(random.pick(integers)) })
        case 4: return Tensor(shape: shape, int32s: (0..<count).map { _ in Int32(truncatingIfNeeded: random.pick(integers)) })
        default: return Tensor(shape: shape, bools: (0..<count).map { _ in random.below(2) == 0 })
        }
    }

    /// A small int64 vector of hostile values (shapes, axes, starts, sizes as inputs).
    static func integerVector(_ random: inout Random) -> Tensor {
        let count = random.below(5)
        return Tensor(shape: [count], int64s: (0..<count).map { _ in Int64(random.pick(integers)) })
    }

    static func attributes(_ random: inout Random) -> [String: AttributeValue] {
        var attributes: [String: AttributeValue] = [:]
        for _ in 0..<random.below(4) {
            let name = random.pick(attributeNames)
            switch random.below(5) {
            case 0: attributes[name] = .int(random.pick(integers))
            case 1: attributes[name] = .float(random.pick([0, 1, -1, .nan, .infinity]))
            case 2:
                attributes[name] = .string(random.pick(["SAME_UPPER", "VALID", "NOTSET", "tanh", "FLOAT", "x", "reverse", "bidirectional", "linear", "cubic",
                                                        "align_corners", "tf_crop_and_resize", "reflect", "edge", "wrap", "ij,jk->ik", "...ii->...i", "i,i", "->", "...,...->..."]))
            default: attributes[name] = .ints((0..<random.below(5)).map { _ in random.pick(integers) })
            }
        }
        return attributes
    }

    static func describe(_ tensor: Tensor?) -> String {
        guard let tensor else { return "nil" }
        return "\(tensor.elementType)\(tensor.shape)"
    }

    @Test func everyOperatorReturnsOrThrowsOnHostileInputs() throws {
        var random = Random(state: 2024)
        var returned = 0, thrown = 0
        let started = ContinuousClock.now
        for op in Operators.supported {
            for opset in [6, 11, 13, 18, 21] {
                let kernel = try #require(Operators.kernel(for: op, opset: opset))
                for i in 0..<200 {
                    let arity = random.below(5)
                    let inputs: [Tensor?] = (0..<arity).map { _ in
                        switch random.below(6) {
                        case 0: nil
                        case 1, 2: Self.integerVector(&random)
                        default: Self.tensor(&random)
                        }
                    }
                    let outputs = (0..<(1 + random.below(3))).map { "y\($0)" }
                    let node = Node(name: "fuzz", opType: op, inputs: [], outputs: outputs, attributes: Self.attributes(&random))
                    if Self.trace { print("fuzz case: \(op) opset \(opset) #\(i): inputs \(inputs.map(Self.describe)), attributes \(node.attributes), outputs \(outputs.count)") }
                    let caseStarted = ContinuousClock.now
                    defer { if Self.trace, ContinuousClock.now - caseStarted > .milliseconds(200) { print("slow: \(ContinuousClock.now - caseStarted)") } }
                    do {
                        let results = try kernel(node, inputs)
                        // Whatever a kernel returns holds a valid shape.
                        for tensor in results { #expect(TensorLimits.validCount(tensor.shape) == tensor.count, "\(op): \(tensor.shape)") }
                        returned += 1
                    } catch {
                        thrown += 1
                    }
                }
            }
        }
        #expect(returned > 1000 && thrown > 1000, "returned \(returned), thrown \(thrown)")
        #expect(ContinuousClock.now - started < .seconds(30))
    }
}
