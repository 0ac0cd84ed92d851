import HedgerowCore

/// A kernel computes a node's outputs from its inputs (nil for optional inputs left out).
typealias Kernel = @Sendable (Node, [Tensor?]) throws(HedgerowError) -> [Tensor]

/// The operator table: ONNX default-domain op type → kernel, chosen once at load for the model's opset (the
/// kernels whose inputs or attributes changed between opsets 11 and 21 are built for the opset in force).
enum Operators {
    /// Called once per node at load: Conv and the poolings get a kernel of their own (with the node's geometry
    /// cache), the rest a shared one.
    static func kernel(for opType: String, opset: Int) -> Kernel? {
        switch opType {
        case "Gemm": LinearAlgebra.gemm
        case "MatMul": LinearAlgebra.matMul
        case "Add": Elementwise.add(opset: opset)
        case "Sub": Elementwise.sub(opset: opset)
        case "Mul": Elementwise.mul(opset: opset)
        case "Div": Elementwise.div(opset: opset)
        case "Pow": Elementwise.pow(opset: opset)
        case "Sqrt": Elementwise.sqrt
        case "Exp": Elementwise.exp
        case "Log": Elementwise.log
        case "Neg": Elementwise.neg
        case "Abs": Elementwise.abs
        case "Relu": Elementwise.relu
        case "LeakyRelu": Elementwise.leakyRelu
        case "Sigmoid": Elementwise.sigmoid
        case "Tanh": Elementwise.tanh
        case "Erf": Elementwise.erf
        case "Gelu": Elementwise.gelu
        case "Clip": Elementwise.clip(opset: opset)
        case "Equal": Elementwise.equal
        case "Greater": Elementwise.greater
        case "Less": Elementwise.less
        case "Where": Elementwise.where
        case "Softmax": Softmax.kernel(log: false, opset: opset)
        case "LogSoftmax": Softmax.kernel(log: true, opset: opset)
        case "Conv": Convolution.kernel()
        case "MaxPool": Pooling.maxPool()
        case "AveragePool": Pooling.averagePool()
        case "GlobalAveragePool": Pooling.globalAveragePool
        case "BatchNormalization": Normalization.batchNormalization
        case "LayerNormalization": Normalization.layerNormalization
        case "Flatten": ShapeOperators.flatten
        case "Reshape": ShapeOperators.reshape(opset: opset)
        case "Squeeze": ShapeOperators.squeeze(opset: opset)
        case "Unsqueeze": ShapeOperators.unsqueeze(opset: opset)
        case "Shape": ShapeOperators.shape
        case "Identity": ShapeOperators.identity
        case "Dropout": ShapeOperators.dropout
        case "Expand": ShapeOperators.expand
        case "Transpose": DataMovement.transpose
        case "Concat": DataMovement.concat(opset: opset)
        case "Split": DataMovement.split(opset: opset)
        case "Slice": DataMovement.slice(opset: opset)
        case "Gather": DataMovement.gather
        case "ReduceSum": Reductions.reduce(.sum, opset: opset)
        case "ReduceMean": Reductions.reduce(.mean, opset: opset)
        case "ReduceMax": Reductions.reduce(.max, opset: opset)
        case "ArgMax": Reductions.argMax
        case "Cast": Cast.kernel
        case "Constant": Constants.constant
        case "ConstantOfShape": Constants.constantOfShape
        case "HardSigmoid": Elementwise.hardSigmoid
        case "HardSwish": Elementwise.hardSwish
        case "Reciprocal": Elementwise.reciprocal
        case "GlobalMaxPool": Pooling.globalMaxPool
        case "Max": Variadic.max
        case "Min": Variadic.min
        case "Sum": Variadic.sum
        case "Mean": Variadic.mean
        case "Range": NumberRange.kernel
        case "Tile": Padding.tile
        case "Pad": Padding.pad(opset: opset)
        case "TopK": TopK.kernel(opset: opset)
        case "InstanceNormalization": Normalization.instanceNormalization
        case "ConvTranspose": ConvTranspose.kernel
        case "Resize": Resize.kernel(opset: opset)
        case "Upsample": Resize.kernel(opset: opset, upsample: true)
        case "LSTM": Recurrent.lstm
        case "GRU": Recurrent.gru
        case "Einsum": Einsum.kernel
        default: nil
        }
    }

    /// The op types `kernel(for:opset:)` knows, for documentation and `hedgerow conformance`.
    public static let supported = [
        "Abs", "Add", "ArgMax", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "ConstantOfShape",
        "Conv", "ConvTranspose", "Div", "Dropout", "Einsum", "Equal", "Erf", "Exp", "Expand", "Flatten", "Gather", "Gelu", "Gemm", "GlobalAveragePool",
        "GlobalMaxPool", "GRU", "Greater", "HardSigmoid", "HardSwish", "Identity", "InstanceNormalization", "LayerNormalization",
        "LSTM", "LeakyRelu", "Less", "Log", "LogSoftmax", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mul", "Neg", "Pad", "Pow",
        "Range", "Reciprocal", "ReduceMax", "ReduceMean", "ReduceSum", "Relu", "Reshape", "Resize", "Shape", "Sigmoid", "Slice",
        "Softmax", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tanh", "Tile", "TopK", "Transpose", "Unsqueeze", "Upsample", "Where",
    ]

    /// Input `index` of a node, or an error naming the node when it is missing.
    static func input(_ args: [Tensor?], _ index: Int, of node: Node) throws(HedgerowError) -> Tensor {
        guard index < args.count, let tensor = args[index] else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (\(node.opType)) is missing input #\(index)")
        }
        return tensor
    }

    /// A possibly negative axis made absolute for `rank` (`allowRank`: `rank` itself is valid, as for Flatten).
    static func axis(_ axis: Int, rank: Int, node: Node, allowRank: Bool = false) throws(HedgerowError) -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0, a < rank || (allowRank && a == rank) else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (\(node.opType)): axis \(axis) is out of range for rank \(rank)")
        }
        return a
    }
}
