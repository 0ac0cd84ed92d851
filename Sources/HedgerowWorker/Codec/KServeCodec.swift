import Foundation
import HedgerowCore
import HedgerowRuntime

/// The Open Inference Protocol (KServe v2) `/infer` body, as Triton and MLServer speak it.
enum KServeCodec {
    struct Request {
        var id: String?
        var feeds: [String: Tensor]
        /// Output names the client asked for; nil means all.
        var requestedOutputs: [String]?
    }

    static func decode(_ body: Data, graph: ModelGraph) throws(HedgerowError) -> Request {
        let object = try TensorJSON.object(body)
        guard let inputs = object["inputs"] as? [Any], !inputs.isEmpty else {
            throw HedgerowError(.badRequest, "request must have a non-empty 'inputs' list")
        }
        var feeds: [String: Tensor] = [:]
        for (index, entry) in inputs.enumerated() {
            guard let input = entry as? [String: Any] else {
                throw HedgerowError(.badRequest, "inputs[\(index)] must be an object with name, shape, datatype and data")
            }
            guard let name = input["name"] as? String else { throw HedgerowError(.badRequest, "inputs[\(index)] has no 'name'") }
            guard let signature = graph.inputs.first(where: { $0.name == name }) else {
                throw HedgerowError(.badRequest, "unknown input '\(name)'; the model takes \(graph.inputs.map { "'\($0.name)'" }.joined(separator: ", "))")
            }
            guard let datatype = input["datatype"] as? String else {
                throw HedgerowError(.badRequest, "input '\(name)' has no 'datatype' (expected \(signature.elementType))")
            }
            guard datatype == signature.elementType.description else {
                throw HedgerowError(.badRequest, "input '\(name)': expected datatype \(signature.elementType), got \(datatype)")
            }
            guard let shapeList = input["shape"] as? [Any] else {
                throw HedgerowError(.badRequest, "input '\(name)' has no 'shape' list")
            }
            var shape: [Int] = []
            for dim in shapeList {
                guard let n = (dim as? NSNumber)?.intValue, n >= 0, Double(n) == (dim as? NSNumber)?.doubleValue else {
                    throw HedgerowError(.badRequest, "input '\(name)': shape must be a list of non-negative integers")
                }
                shape.append(n)
            }
            guard let data = input["data"] else { throw HedgerowError(.badRequest, "input '\(name)' has no 'data'") }
            let (values, _) = try TensorJSON.flatten(data, what: "input '\(name)'")
            let expected = shape.reduce(1, *)
            guard values.count == expected else {
                throw HedgerowError(.badRequest, "input '\(name)': shape \(shape) needs \(expected) values, 'data' has \(values.count)")
            }
            feeds[name] = try TensorJSON.tensor(values, shape: shape, for: signature)
        }
        var requested: [String]?
        if let outputs = object["outputs"] as? [Any] {
            requested = try outputs.map { (entry: Any) throws(HedgerowError) -> String in
                guard let name = (entry as? [String: Any])?["name"] as? String else {
                    throw HedgerowError(.badRequest, "each entry of 'outputs' must be an object with a 'name'")
                }
                guard graph.outputs.contains(where: { $0.name == name }) else {
                    throw HedgerowError(.badRequest, "unknown output '\(name)'; the model produces \(graph.outputs.map { "'\($0.name)'" }.joined(separator: ", "))")
                }
                return name
            }
        }
        return Request(id: object["id"] as? String, feeds: feeds, requestedOutputs: requested)
    }

    static func encode(_ outputs: [String: Tensor], request: Request, model: ModelVersionID, graph: ModelGraph) -> String {
        var out = "{\"model_name\":\(TensorJSON.quoted(model.model.rawValue)),\"model_version\":\"\(model.version)\""
        if let id = request.id { out.append(",\"id\":\(TensorJSON.quoted(id))") }
        out.append(",\"outputs\":[")
        let names = request.requestedOutputs ?? graph.outputs.map(\.name)
        for (i, name) in names.enumerated() {
            guard let tensor = outputs[name] else { continue }
            if i > 0 { out.append(",") }
            out.append("{\"name\":\(TensorJSON.quoted(name)),\"datatype\":\"\(tensor.elementType)\",\"shape\":[")
            out.append(tensor.shape.map(String.init).joined(separator: ","))
            out.append("],\"data\":")
            TensorJSON.appendFlat(tensor, to: &out)
            out.append("}")
        }
        out.append("]}")
        return out
    }
}
