import Foundation
import HedgerowCore
import HedgerowRuntime

/// TensorFlow Serving REST `:predict`: the row format (`{"instances": [...]}` → `{"predictions": [...]}`) and the
/// columnar format (`{"inputs": ...}` → `{"outputs": ...}`), as TF Serving documents them.
///
/// Shapes are implied by the nesting of the lists, so their element count is the number of values parsed (no
/// product to overflow); each is held to the model's declared signature before its values are converted.
enum TFServingCodec {
    enum Format { case row, columnar }

    static func decode(_ body: Data, graph: ModelGraph) throws(HedgerowError) -> (feeds: [String: Tensor], format: Format) {
        let object = try TensorJSON.object(body)
        if let instances = object["instances"] {
            guard object["inputs"] == nil else {
                throw HedgerowError(.badRequest, "request has both 'instances' and 'inputs'; send one of them")
            }
            return (try decodeRows(instances, graph: graph), .row)
        }
        if let inputs = object["inputs"] {
            return (try decodeColumns(inputs, graph: graph), .columnar)
        }
        throw HedgerowError(.badRequest, "request must have 'instances' (row format) or 'inputs' (columnar format)")
    }

    private static func decodeRows(_ instances: JSONNode, graph: ModelGraph) throws(HedgerowError) -> [String: Tensor] {
        let rowCount: Int
        switch instances {
        case .array(let list): rowCount = list.count
        case .numbers(let values): rowCount = values.count
        default: rowCount = 0
        }
        guard rowCount > 0 else {
            throw HedgerowError(.badRequest, "'instances' must be a non-empty list")
        }
        guard !graph.inputs.isEmpty else { throw HedgerowError(.badRequest, "this model takes no inputs") }
        if graph.inputs.count == 1 {
            let input = graph.inputs[0]
            // A single-input model also accepts the named form, `{"instances": [{"x": [...]}, ...]}`.
            if case .array(let rows) = instances, rows.allSatisfy(\.isObject) {
                return [input.name: try column(rows, of: input)]
            }
            return [input.name: try TensorJSON.tensor(instances, for: input)]
        }
        guard case .array(let rows) = instances else {
            throw HedgerowError(.badRequest, "instance 0 must be an object with a value for input '\(graph.inputs[0].name)'")
        }
        var feeds: [String: Tensor] = [:]
        for input in graph.inputs {
            feeds[input.name] = try column(rows, of: input)
        }
        return feeds
    }

    /// The values of one input across named instances (`[{"user": 1, "item": 2}, ...]`), stacked as rows.
    private static func column(_ rows: [JSONNode], of input: TensorSignature) throws(HedgerowError) -> Tensor {
        var column: [JSONNode] = []
        column.reserveCapacity(rows.count)
        for (i, row) in rows.enumerated() {
            guard let value = row[input.name] else {
                throw HedgerowError(.badRequest, "instance \(i) must be an object with a value for input '\(input.name)'")
            }
            column.append(value)
        }
        return try TensorJSON.tensor(.array(column), for: input)
    }

    private static func decodeColumns(_ inputs: JSONNode, graph: ModelGraph) throws(HedgerowError) -> [String: Tensor] {
        if case .object(let named) = inputs {
            var feeds: [String: Tensor] = [:]
            for (name, value) in named {
                guard let input = graph.inputs.first(where: { $0.name == name }) else {
                    throw HedgerowError(.badRequest, "unknown input '\(name)'; the model takes \(graph.inputs.map { "'\($0.name)'" }.joined(separator: ", "))")
                }
                feeds[name] = try TensorJSON.tensor(value, for: input)
            }
            return feeds
        }
        guard graph.inputs.count == 1 else {
            throw HedgerowError(.badRequest, "this model takes several inputs; 'inputs' must be an object keyed by input name")
        }
        let input = graph.inputs[0]
        return [input.name: try TensorJSON.tensor(inputs, for: input)]
    }

    /// A ZipMap output (`TensorSignature.mapKeys`) is written as one JSON object per row, label → probability.
    static func encode(_ outputs: [String: Tensor], graph: ModelGraph, format: Format) -> String {
        var out = ""
        let ordered = graph.outputs.compactMap { signature in outputs[signature.name].map { Named(signature: signature, tensor: $0) } }
        switch format {
        case .columnar:
            out.append("{\"outputs\":")
            if ordered.count == 1 {
                ordered[0].append(to: &out)
            } else {
                appendNamed(ordered, to: &out)
            }
            out.append("}")
        case .row:
            if ordered.count == 1 {
                out.append("{\"predictions\":")
                ordered[0].append(to: &out)
                out.append("}")
            } else if let rows = commonRows(ordered.map(\.tensor)) {
                out.append("{\"predictions\":[")
                for r in 0..<rows {
                    if r > 0 { out.append(",") }
                    out.append("{")
                    for (i, output) in ordered.enumerated() {
                        if i > 0 { out.append(",") }
                        out.append(TensorJSONWriter.quoted(output.signature.name) + ":")
                        output.append(row: r, to: &out)
                    }
                    out.append("}")
                }
                out.append("]}")
            } else {
                // Outputs that do not share a batch dimension have no row form (TF Serving refuses them too);
                // the columnar form carries them whole rather than reading past a shorter output.
                out.append("{\"outputs\":")
                appendNamed(ordered, to: &out)
                out.append("}")
            }
        }
        return out
    }

    /// An output with its declared signature (for ZipMap's keys).
    private struct Named {
        var signature: TensorSignature
        var tensor: Tensor

        func append(to out: inout String) {
            TensorJSONWriter.appendNested(tensor, mapKeys: signature.mapKeys, to: &out)
        }

        func append(row r: Int, to out: inout String) {
            TensorJSONWriter.appendNested(tensor, from: 1, offset: r * RequestShape.stride(tensor.shape, from: 1), mapKeys: signature.mapKeys, to: &out)
        }
    }

    /// The batch size shared by every output, or nil if one is a scalar or they differ.
    private static func commonRows(_ tensors: [Tensor]) -> Int? {
        guard let rows = tensors.first?.shape.first else { return tensors.isEmpty ? 0 : nil }
        return tensors.allSatisfy({ $0.shape.first == rows }) ? rows : nil
    }

    private static func appendNamed(_ ordered: [Named], to out: inout String) {
        out.append("{")
        for (i, output) in ordered.enumerated() {
            if i > 0 { out.append(",") }
            out.append(TensorJSONWriter.quoted(output.signature.name) + ":")
            output.append(to: &out)
        }
        out.append("}")
    }
}
