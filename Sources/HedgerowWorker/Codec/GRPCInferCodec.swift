import Foundation
import HedgerowCore
import HedgerowGRPC
import HedgerowRuntime
import SwiftProtobuf

/// `ModelInferRequest` → feeds, and outputs → `ModelInferResponse`: KServe v2 over gRPC, as tritonclient.grpc and
/// KServe clients send it.
///
/// Inputs come either all as `raw_input_contents` (one entry per input, in order: what tritonclient sends) or all
/// as typed `contents`; mixing is refused, as the protocol says. The checks are `KServeCodec`'s, in the same order
/// and with the same messages (input named, expected and given shape), and every one happens before a value is
/// converted. Answers always carry `raw_output_contents`, as Triton's do; both client libraries read them.
enum GRPCInferCodec {
    static func decode(_ message: Data, graph: ModelGraph) throws(HedgerowError) -> KServeCodec.Request {
        let request: Inference_ModelInferRequest
        do {
            request = try Inference_ModelInferRequest(serializedBytes: message)
        } catch {
            throw HedgerowError(.badRequest, "malformed ModelInferRequest message: \(error)")
        }
        guard !request.inputs.isEmpty else { throw HedgerowError(.badRequest, "request must have at least one input") }
        let raw = request.rawInputContents
        guard raw.isEmpty || raw.count == request.inputs.count else {
            throw HedgerowError(.badRequest, "raw_input_contents has \(raw.count) entries for \(request.inputs.count) inputs; send one per input, in order")
        }
        var feeds: [String: Tensor] = [:]
        for (index, input) in request.inputs.enumerated() {
            let name = input.name
            let signature = try KServeCodec.signature(of: name, in: graph, decoded: feeds)
            try KServeCodec.check(datatype: input.datatype, against: signature)
            let shape = try RequestShape.parse(input.shape, input: name)
            let count = try RequestShape.elementCount(shape, input: name)
            try RequestShape.check(shape, against: signature)
            if !raw.isEmpty {
                guard !input.hasContents else {
                    throw HedgerowError(.badRequest, "input '\(name)' has typed contents while the request uses raw_input_contents; use one or the other")
                }
                feeds[name] = try RawTensorBytes.tensor(raw[index], shape: shape, count: count, for: signature)
            } else {
                feeds[name] = try tensor(input.contents, shape: shape, count: count, for: signature)
            }
        }
        try KServeCodec.checkComplete(feeds, graph: graph)
        var requested: [String]?
        if !request.outputs.isEmpty {
            requested = try request.outputs.map { (output) throws(HedgerowError) -> String in
                try KServeCodec.checkOutput(output.name, in: graph)
                return output.name
            }
        }
        return KServeCodec.Request(id: request.id.isEmpty ? nil : request.id, feeds: feeds, requestedOutputs: requested)
    }

    /// Typed contents: the repeated field of the input's datatype, holding exactly `count` values.
    private static func tensor(_ contents: Inference_InferTensorContents, shape: [Int], count: Int, for signature: TensorSignature) throws(HedgerowError) -> Tensor {
        let name = signature.name
        func checked(_ given: Int, _ field: String) throws(HedgerowError) {
            guard given == count else {
                throw HedgerowError(.badRequest, "input '\(name)': shape \(shape) needs \(count) values, contents.\(field) has \(given)")
            }
        }
        switch signature.datatype {
        case "FP32", "FP16", "BF16":
            try checked(contents.fp32Contents.count, "fp32_contents")
            return Tensor(shape: shape, floats: contents.fp32Contents)
        case "FP64":
            try checked(contents.fp64Contents.count, "fp64_contents")
            let floats = contents.fp64Contents.map { Float($0) }
            if let i = floats.indices.first(where: { !floats[$0].isFinite && contents.fp64Contents[$0].isFinite }) {
                throw HedgerowError(.badRequest, "input '\(name)': element \(i) is \(contents.fp64Contents[i]), outside float32's range (Hedgerow computes FP64 inputs in float32)")
            }
            return Tensor(shape: shape, floats: floats)
        case "INT64":
            try checked(contents.int64Contents.count, "int64_contents")
            return Tensor(shape: shape, int64s: contents.int64Contents)
        case "INT32":
            try checked(contents.intContents.count, "int_contents")
            return Tensor(shape: shape, int32s: contents.intContents)
        case "BOOL":
            try checked(contents.boolContents.count, "bool_contents")
            return Tensor(shape: shape, bools: contents.boolContents)
        case "BYTES":
            try checked(contents.bytesContents.count, "bytes_contents")
            return Tensor(shape: shape, strings: contents.bytesContents.map { String(decoding: $0, as: UTF8.self) })
        default:
            throw HedgerowError(.badRequest, "input '\(name)': datatype \(signature.datatype) is not supported over gRPC")
        }
    }

    static func encode(_ outputs: [String: Tensor], request: KServeCodec.Request, model: ModelVersionID, graph: ModelGraph) -> Inference_ModelInferResponse {
        var response = Inference_ModelInferResponse()
        response.modelName = model.model.rawValue
        response.modelVersion = model.version.description
        if let id = request.id { response.id = id }
        for name in request.requestedOutputs ?? graph.outputs.map(\.name) {
            guard let tensor = outputs[name] else { continue }
            let signature = graph.outputs.first { $0.name == name }
            var output = Inference_ModelInferResponse.InferOutputTensor()
            output.name = name
            output.datatype = signature?.wireType ?? tensor.elementType.description
            output.shape = tensor.shape.map { Int64($0) }
            if let keys = signature?.mapKeys {
                output.parameters["class_labels"] = .with { $0.stringParam = KServeCodec.labelsText(keys) }
            }
            response.outputs.append(output)
            response.rawOutputContents.append(RawTensorBytes.bytes(of: tensor, datatype: output.datatype))
        }
        return response
    }
}
