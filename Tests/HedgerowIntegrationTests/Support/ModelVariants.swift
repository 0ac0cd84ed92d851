import Foundation
@testable import HedgerowRuntime

/// Candidate versions made from an example model's ONNX file, for canary tests: one that answers differently in a
/// known way, one that answers the same up to float noise.
enum ModelVariants {
    /// The model with classes `a` and `b` of its first output swapped: a Gather along axis 1 appended to the graph.
    static func swappingClasses(of data: Data, _ a: Int, _ b: Int, classes: Int) throws -> Data {
        var model = try Onnx_ModelProto(serializedBytes: data)
        let output = model.graph.output[0].name
        let unswapped = output + "_unswapped"
        for i in model.graph.node.indices {
            model.graph.node[i].output = model.graph.node[i].output.map { $0 == output ? unswapped : $0 }
        }
        var permutation = Array(0..<Int64(classes))
        permutation.swapAt(a, b)
        var indices = Onnx_TensorProto()
        indices.name = "swap_indices"
        indices.dims = [Int64(classes)]
        indices.dataType = 7  // INT64
        indices.int64Data = permutation
        model.graph.initializer.append(indices)
        var axis = Onnx_AttributeProto()
        axis.name = "axis"
        axis.type = .int
        axis.i = 1
        var gather = Onnx_NodeProto()
        gather.opType = "Gather"
        gather.name = "swap_classes"
        gather.input = [unswapped, "swap_indices"]
        gather.output = [output]
        gather.attribute = [axis]
        model.graph.node.append(gather)
        return try model.serializedData()
    }

    /// The model with every float weight moved by up to `amplitude` (a fixed pseudo-random pattern).
    static func withWeightNoise(_ data: Data, amplitude: Float) throws -> Data {
        var model = try Onnx_ModelProto(serializedBytes: data)
        var state: UInt64 = 42
        func noise() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * amplitude
        }
        for i in model.graph.initializer.indices where model.graph.initializer[i].dataType == 1 {
            var tensor = model.graph.initializer[i]
            if !tensor.rawData.isEmpty {
                var floats = [Float](repeating: 0, count: tensor.rawData.count / 4)
                _ = floats.withUnsafeMutableBytes { tensor.rawData.copyBytes(to: $0) }
                for j in floats.indices { floats[j] += noise() }
                tensor.rawData = floats.withUnsafeBytes { Data($0) }
            } else {
                tensor.floatData = tensor.floatData.map { $0 + noise() }
            }
            model.graph.initializer[i] = tensor
        }
        return try model.serializedData()
    }
}
