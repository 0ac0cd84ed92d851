import HedgerowCore

/// A kernel computes a node's outputs from its inputs (nil for optional inputs left out).
typealias Kernel = @Sendable (Node, [Tensor?]) throws(HedgerowError) -> [Tensor]

/// The operator table: ONNX default-domain op type → kernel, chosen once at load for the model's opset.
enum Operators {
    static func kernel(for opType: String, opset: Int) -> Kernel? {
        switch opType {
        case "Gemm": LinearAlgebra.gemm
        case "MatMul": LinearAlgebra.matMul
        case "Add": Elementwise.add
        case "Relu": Elementwise.relu
        case "Sigmoid": Elementwise.sigmoid
        case "Softmax": opset >= 13 ? Softmax.opset13 : Softmax.legacy
        case "Flatten": ShapeOperators.flatten
        case "Identity": ShapeOperators.identity
        default: nil
        }
    }

    /// The op types `kernel(for:opset:)` knows, for documentation and `hedgerow conformance`.
    public static let supported = ["Add", "Flatten", "Gemm", "Identity", "MatMul", "Relu", "Sigmoid", "Softmax"]

    /// Input `index` of a node, or an error naming the node when it is missing.
    static func input(_ args: [Tensor?], _ index: Int, of node: Node) throws(HedgerowError) -> Tensor {
        guard index < args.count, let tensor = args[index] else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (\(node.opType)) is missing input #\(index)")
        }
        return tensor
    }
}
