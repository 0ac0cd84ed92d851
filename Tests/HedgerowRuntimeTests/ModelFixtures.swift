import Foundation
@testable import HedgerowRuntime

/// Small ONNX models built in code, and the repository's own example model.
enum ModelFixtures {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func valueInfo(_ name: String, _ dims: [Int64?], type: Int32 = 1) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = type
        tensorType.shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            if let d { dim.dimValue = d } else { dim.dimParam = "N" }
            return dim
        }
        info.type.tensorType = tensorType
        return info
    }

    static func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String = "", attributes: [Onnx_AttributeProto] = []) -> Onnx_NodeProto {
        var node = Onnx_NodeProto()
        node.opType = op
        node.input = inputs
        node.output = outputs
        node.name = name
        node.attribute = attributes
        return node
    }

    static func floatTensor(_ name: String, _ dims: [Int64], _ values: [Float]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = dims
        t.dataType = 1
        t.floatData = values
        return t
    }

    static func model(nodes: [Onnx_NodeProto], inputs: [Onnx_ValueInfoProto], outputs: [Onnx_ValueInfoProto], initializers: [Onnx_TensorProto] = [], opset: Int64 = 13) throws -> Data {
        var graph = Onnx_GraphProto()
        graph.node = nodes
        graph.input = inputs
        graph.output = outputs
        graph.initializer = initializers
        var model = Onnx_ModelProto()
        model.irVersion = 8
        var opsetID = Onnx_OperatorSetIdProto()
        opsetID.version = opset
        model.opsetImport = [opsetID]
        model.graph = graph
        return try model.serializedData()
    }
}
