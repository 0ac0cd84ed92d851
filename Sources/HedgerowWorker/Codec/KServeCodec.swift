import Foundation
import HedgerowCore
import HedgerowRuntime

/// The Open Inference Protocol (KServe v2) `/infer` body, as Triton and MLServer speak it.
///
/// Decoding checks, in order and before converting any value: each input names a model input once, its datatype is
/// the declared one, its `shape` is a list of integers whose product fits in an `Int` (`RequestShape`), the shape
/// matches the declared signature, and `data` holds exactly that many values. Every refusal is a 400 naming the
/// input.
enum KServeCodec {
    struct Request {
        var id: String?
        var feeds: [String: Tensor]
        /// Output names the client asked for; nil means all.
        var requestedOutputs: [String]?
    }

    static func decode(_ body: Data, graph: ModelGraph) throws(HedgerowError) -> Request {
        let object = try TensorJSON.object(body)
        guard let inputs = object["inputs"]?.elements, !inputs.isEmpty else {
            throw HedgerowError(.badRequest, "request must have a non-empty 'inputs' list")
        }
        var feeds: [String: Tensor] = [:]
        for (index, entry) in inputs.enumerated() {
            guard entry.isObject else {
                throw HedgerowError(.badRequest, "inputs[\(index)] must be an object with name, shape, datatype and data")
            }
            let input = entry
            guard case .string(let name) = input["name"] else { throw HedgerowError(.badRequest, "inputs[\(index)] has no 'name'") }
            guard let signature = graph.inputs.first(where: { $0.name == name }) else {
                throw HedgerowError(.badRequest, "unknown input '\(name)'; the model takes \(graph.inputs.map { "'\($0.name)'" }.joined(separator: ", "))")
            }
            guard feeds[name] == nil else {
                throw HedgerowError(.badRequest, "input '\(name)' appears twice in 'inputs'")
            }
            guard case .string(let datatype) = input["datatype"] else {
                throw HedgerowError(.badRequest, "input '\(name)' has no 'datatype' (expected \(signature.datatype))")
            }
            guard datatype == signature.datatype else {
                throw HedgerowError(.badRequest, "input '\(name)': expected datatype \(signature.datatype), got \(datatype)")
            }
            let shape = try RequestShape.parse(input["shape"], input: name)
            let expected = try RequestShape.elementCount(shape, input: name)
            try RequestShape.check(shape, against: signature)
            guard let data = input["data"] else { throw HedgerowError(.badRequest, "input '\(name)' has no 'data'") }
            let flat = try TensorJSON.flatten(data, for: signature)
            guard flat.count == expected else {
                throw HedgerowError(.badRequest, "input '\(name)': shape \(shape) needs \(expected) values, 'data' has \(flat.count)")
            }
            feeds[name] = try TensorJSON.tensor(flat, shape: shape, for: signature)
        }
        if let missing = graph.inputs.first(where: { feeds[$0.name] == nil }) {
            throw HedgerowError(.badRequest, "missing input '\(missing.name)' (expected shape \(RequestShape.text(missing.shape)))")
        }
        var requested: [String]?
        if let outputs = object["outputs"] {
            guard let list = outputs.elements else {
                throw HedgerowError(.badRequest, "'outputs' must be a list of objects with a 'name'")
            }
            requested = try list.map { (entry: JSONNode) throws(HedgerowError) -> String in
                guard case .string(let name) = entry["name"] else {
                    throw HedgerowError(.badRequest, "each entry of 'outputs' must be an object with a 'name'")
                }
                guard graph.outputs.contains(where: { $0.name == name }) else {
                    throw HedgerowError(.badRequest, "unknown output '\(name)'; the model produces \(graph.outputs.map { "'\($0.name)'" }.joined(separator: ", "))")
                }
                return name
            }
        }
        var id: String?
        if let given = object["id"] {
            guard case .string(let text) = given else { throw HedgerowError(.badRequest, "'id' must be a string") }
            id = text
        }
        return Request(id: id, feeds: feeds, requestedOutputs: requested)
    }

    /// A ZipMap output (a sequence of maps in ONNX; v2 has no map type) is answered as the FP32 [N, C] tensor of
    /// probabilities, its columns in the order of `parameters.class_labels`: a JSON list of the labels, as text
    /// (v2 parameters are scalars).
    static func encode(_ outputs: [String: Tensor], request: Request, model: ModelVersionID, graph: ModelGraph) -> String {
        var out = "{\"model_name\":\(TensorJSONWriter.quoted(model.model.rawValue)),\"model_version\":\"\(model.version)\""
        if let id = request.id { out.append(",\"id\":\(TensorJSONWriter.quoted(id))") }
        out.append(",\"outputs\":[")
        let names = request.requestedOutputs ?? graph.outputs.map(\.name)
        var first = true
        for name in names {
            guard let tensor = outputs[name] else { continue }
            if !first { out.append(",") }
            first = false
            let signature = graph.outputs.first { $0.name == name }
            let datatype = signature?.wireType ?? tensor.elementType.description
            out.append("{\"name\":\(TensorJSONWriter.quoted(name)),\"datatype\":\"\(datatype)\",\"shape\":[")
            out.append(tensor.shape.map(String.init).joined(separator: ","))
            out.append("]")
            if let keys = signature?.mapKeys {
                out.append(",\"parameters\":{\"class_labels\":\(TensorJSONWriter.quoted(KServeCodec.labelsText(keys)))}")
            }
            out.append(",\"data\":")
            TensorJSONWriter.appendFlat(tensor, to: &out)
            out.append("}")
        }
        out.append("]}")
        return out
    }

    /// `["setosa","versicolor"]`: ZipMap's labels as the JSON list text `parameters.class_labels` carries.
    static func labelsText(_ keys: [String]) -> String {
        "[" + keys.map(TensorJSONWriter.quoted).joined(separator: ",") + "]"
    }
}
