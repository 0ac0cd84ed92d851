import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// Runs one kernel on tensors, as a node named "n" of the given opset.
func runKernel(_ op: String, _ inputs: [Tensor?], _ attributes: [String: AttributeValue] = [:], outputs: [String] = ["y"], opset: Int = 20) throws -> [Tensor] {
    let kernel = try #require(Operators.kernel(for: op, opset: opset))
    return try kernel(Node(name: "n", opType: op, inputs: [], outputs: outputs, attributes: attributes), inputs)
}

/// The error a kernel throws, or nil when it succeeds; anything but a `HedgerowError` fails the test.
func kernelError(_ op: String, _ inputs: [Tensor?], _ attributes: [String: AttributeValue] = [:], outputs: [String] = ["y"], opset: Int = 20) -> HedgerowError? {
    do { _ = try runKernel(op, inputs, attributes, outputs: outputs, opset: opset); return nil } catch let error as HedgerowError { return error } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

extension Tensor {
    static func ints(_ values: [Int64]) -> Tensor { Tensor(shape: [values.count], int64s: values) }
    static func floats(_ shape: [Int], _ fill: Float = 0) -> Tensor { Tensor(shape: shape, floats: [Float](repeating: fill, count: shape.reduce(1, *))) }
}
