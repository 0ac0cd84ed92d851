import Foundation
import HedgerowCore
import HedgerowRuntime

/// The Open Inference Protocol (KServe v2) `/infer` body, as Triton and MLServer speak it, with Triton's binary
/// tensor extension: when the request carries `Inference-Header-Content-Length: N`, the first N bytes are the JSON
/// and the rest are the inputs' raw bytes, one after another, each input saying how many are its own in
/// `parameters.binary_data_size`; outputs asked for with `parameters.binary_data: true` (or every output, with the
/// request's `parameters.binary_data_output: true`) are answered the same way.
///
/// Decoding checks, in order and before converting any value: each input names a model input once, its datatype is
/// the declared one, its `shape` is a list of integers whose product fits in an `Int` (`RequestShape`), the shape
/// matches the declared signature, and `data` (or its binary bytes) holds exactly that many values. Every refusal
/// is a 400 naming the input.
enum KServeCodec {
    struct Request {
        var id: String?
        var feeds: [String: Tensor]
        /// Output names the client asked for; nil means all.
        var requestedOutputs: [String]?
        /// Outputs to answer as binary data (the binary tensor extension); empty: a plain JSON answer.
        var binaryOutputs: Set<String> = []
    }

    /// `headerLength`: the request's `Inference-Header-Content-Length`, when it has one.
    static func decode(_ body: Data, graph: ModelGraph, headerLength: Int? = nil) throws(HedgerowError) -> Request {
        var binary = Data()
        var json = body
        if let headerLength {
            guard headerLength >= 0, headerLength <= body.count else {
                throw HedgerowError(.badRequest, "Inference-Header-Content-Length is \(headerLength) but the body has \(body.count) bytes")
            }
            json = body.prefix(headerLength)
            binary = body.dropFirst(headerLength)
        }
        var cursor = binary.startIndex
        let object = try TensorJSON.object(json)
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
            let signature = try Self.signature(of: name, in: graph, decoded: feeds)
            guard case .string(let datatype) = input["datatype"] else {
                throw HedgerowError(.badRequest, "input '\(name)' has no 'datatype' (expected \(signature.datatype))")
            }
            try Self.check(datatype: datatype, against: signature)
            let shape = try RequestShape.parse(input["shape"], input: name)
            let expected = try RequestShape.elementCount(shape, input: name)
            try RequestShape.check(shape, against: signature)
            if let size = input["parameters"]?["binary_data_size"] {
                guard headerLength != nil else {
                    throw HedgerowError(.badRequest, "input '\(name)' has parameters.binary_data_size but the request has no Inference-Header-Content-Length header")
                }
                guard case .number(let claimed) = size, claimed >= 0, claimed.rounded() == claimed,
                      claimed <= Double(binary.endIndex - cursor) else {
                    let given = if case .number(let value) = size { JSONNode.text(value) } else { size.kind }
                    throw HedgerowError(.badRequest, "input '\(name)': parameters.binary_data_size \(given) is not a byte count within the \(binary.endIndex - cursor) bytes of binary data left")
                }
                let bytes = binary[cursor..<cursor + Int(claimed)]
                cursor += Int(claimed)
                feeds[name] = try RawTensorBytes.tensor(bytes, shape: shape, count: expected, for: signature)
                continue
            }
            guard let data = input["data"] else { throw HedgerowError(.badRequest, "input '\(name)' has no 'data'") }
            let flat = try TensorJSON.flatten(data, for: signature)
            guard flat.count == expected else {
                throw HedgerowError(.badRequest, "input '\(name)': shape \(shape) needs \(expected) values, 'data' has \(flat.count)")
            }
            feeds[name] = try TensorJSON.tensor(flat, shape: shape, for: signature)
        }
        guard cursor == binary.endIndex else {
            throw HedgerowError(.badRequest, "\(binary.endIndex - cursor) bytes of binary data follow the inputs' binary_data_size")
        }
        try Self.checkComplete(feeds, graph: graph)
        var requested: [String]?
        var binaryOutputs: Set<String> = []
        let allBinary = try flag(object["parameters"]?["binary_data_output"], "parameters.binary_data_output") ?? false
        if let outputs = object["outputs"] {
            guard let list = outputs.elements else {
                throw HedgerowError(.badRequest, "'outputs' must be a list of objects with a 'name'")
            }
            requested = try list.map { (entry: JSONNode) throws(HedgerowError) -> String in
                guard case .string(let name) = entry["name"] else {
                    throw HedgerowError(.badRequest, "each entry of 'outputs' must be an object with a 'name'")
                }
                try Self.checkOutput(name, in: graph)
                if try flag(entry["parameters"]?["binary_data"], "output '\(name)': parameters.binary_data") ?? allBinary { binaryOutputs.insert(name) }
                return name
            }
        } else if allBinary {
            binaryOutputs = Set(graph.outputs.map(\.name))
        }
        var id: String?
        if let given = object["id"] {
            guard case .string(let text) = given else { throw HedgerowError(.badRequest, "'id' must be a string") }
            id = text
        }
        return Request(id: id, feeds: feeds, requestedOutputs: requested, binaryOutputs: binaryOutputs)
    }

    // The checks every v2 encoding (JSON, binary, gRPC) makes of the names in a request, with the same messages.

    /// The signature of input `name`: refused when the model has no such input or the request named it already.
    static func signature(of name: String, in graph: ModelGraph, decoded feeds: [String: Tensor]) throws(HedgerowError) -> TensorSignature {
        guard let signature = graph.inputs.first(where: { $0.name == name }) else {
            throw HedgerowError(.badRequest, "unknown input '\(name)'; the model takes \(graph.inputs.map { "'\($0.name)'" }.joined(separator: ", "))")
        }
        guard feeds[name] == nil else { throw HedgerowError(.badRequest, "input '\(name)' appears twice in 'inputs'") }
        return signature
    }

    static func check(datatype: String, against signature: TensorSignature) throws(HedgerowError) {
        guard datatype == signature.datatype else {
            throw HedgerowError(.badRequest, "input '\(signature.name)': expected datatype \(signature.datatype), got \(datatype.isEmpty ? "none" : datatype)")
        }
    }

    /// Every input of the model was given.
    static func checkComplete(_ feeds: [String: Tensor], graph: ModelGraph) throws(HedgerowError) {
        if let missing = graph.inputs.first(where: { feeds[$0.name] == nil }) {
            throw HedgerowError(.badRequest, "missing input '\(missing.name)' (expected shape \(RequestShape.text(missing.shape)))")
        }
    }

    static func checkOutput(_ name: String, in graph: ModelGraph) throws(HedgerowError) {
        guard graph.outputs.contains(where: { $0.name == name }) else {
            throw HedgerowError(.badRequest, "unknown output '\(name)'; the model produces \(graph.outputs.map { "'\($0.name)'" }.joined(separator: ", "))")
        }
    }

    private static func flag(_ value: JSONNode?, _ what: String) throws(HedgerowError) -> Bool? {
        guard let value else { return nil }
        guard case .bool(let flag) = value else { throw HedgerowError(.badRequest, "\(what) must be true or false, not \(value.kind)") }
        return flag
    }

    /// The answer: JSON, or with binary outputs the JSON header followed by their bytes (`headerLength` is then the
    /// JSON's length, for the `Inference-Header-Content-Length` response header).
    ///
    /// A ZipMap output (a sequence of maps in ONNX; v2 has no map type) is answered as the FP32 [N, C] tensor of
    /// probabilities, its columns in the order of `parameters.class_labels`: a JSON list of the labels, as text
    /// (v2 parameters are scalars).
    static func encode(_ outputs: [String: Tensor], request: Request, model: ModelVersionID, graph: ModelGraph) -> (body: Data, headerLength: Int?) {
        var out = "{\"model_name\":\(TensorJSONWriter.quoted(model.model.rawValue)),\"model_version\":\"\(model.version)\""
        if let id = request.id { out.append(",\"id\":\(TensorJSONWriter.quoted(id))") }
        out.append(",\"outputs\":[")
        let names = request.requestedOutputs ?? graph.outputs.map(\.name)
        var binary = Data()
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
            var parameters: [String] = []
            if let keys = signature?.mapKeys {
                parameters.append("\"class_labels\":\(TensorJSONWriter.quoted(KServeCodec.labelsText(keys)))")
            }
            if request.binaryOutputs.contains(name) {
                let bytes = RawTensorBytes.bytes(of: tensor, datatype: datatype)
                parameters.append("\"binary_data_size\":\(bytes.count)")
                binary.append(bytes)
            }
            if !parameters.isEmpty { out.append(",\"parameters\":{\(parameters.joined(separator: ","))}") }
            if !request.binaryOutputs.contains(name) {
                out.append(",\"data\":")
                TensorJSONWriter.appendFlat(tensor, to: &out)
            }
            out.append("}")
        }
        out.append("]}")
        guard !request.binaryOutputs.isEmpty else { return (Data(out.utf8), nil) }
        var body = Data(out.utf8)
        let headerLength = body.count
        body.append(binary)
        return (body, headerLength)
    }

    /// `["setosa","versicolor"]`: ZipMap's labels as the JSON list text `parameters.class_labels` carries.
    static func labelsText(_ keys: [String]) -> String {
        "[" + keys.map(TensorJSONWriter.quoted).joined(separator: ",") + "]"
    }
}
