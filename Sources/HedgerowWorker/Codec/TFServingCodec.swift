import Foundation
import HedgerowCore
import HedgerowRuntime

/// TensorFlow Serving REST `:predict`: the row format (`{"instances": [...]}` → `{"predictions": [...]}`) and the
/// columnar format (`{"inputs": ...}` → `{"outputs": ...}`), as TF Serving documents them.
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

    private static func decodeRows(_ instances: Any, graph: ModelGraph) throws(HedgerowError) -> [String: Tensor] {
        guard let rows = instances as? [Any], !rows.isEmpty else {
            throw HedgerowError(.badRequest, "'instances' must be a non-empty list")
        }
        if graph.inputs.count == 1 {
            let input = graph.inputs[0]
            let (values, shape) = try TensorJSON.flatten(rows, what: "input '\(input.name)'")
            return [input.name: try TensorJSON.tensor(values, shape: shape, for: input)]
        }
        var feeds: [String: Tensor] = [:]
        for input in graph.inputs {
            var column: [Any] = []
            for (i, row) in rows.enumerated() {
                guard let object = row as? [String: Any], let value = object[input.name] else {
                    throw HedgerowError(.badRequest, "instance \(i) must be an object with a value for input '\(input.name)'")
                }
                column.append(value)
            }
            let (values, shape) = try TensorJSON.flatten(column, what: "input '\(input.name)'")
            feeds[input.name] = try TensorJSON.tensor(values, shape: shape, for: input)
        }
        return feeds
    }

    private static func decodeColumns(_ inputs: Any, graph: ModelGraph) throws(HedgerowError) -> [String: Tensor] {
        if let named = inputs as? [String: Any] {
            var feeds: [String: Tensor] = [:]
            for (name, value) in named {
                guard let input = graph.inputs.first(where: { $0.name == name }) else {
                    throw HedgerowError(.badRequest, "unknown input '\(name)'; the model takes \(graph.inputs.map { "'\($0.name)'" }.joined(separator: ", "))")
                }
                let (values, shape) = try TensorJSON.flatten(value, what: "input '\(name)'")
                feeds[name] = try TensorJSON.tensor(values, shape: shape, for: input)
            }
            return feeds
        }
        guard graph.inputs.count == 1 else {
            throw HedgerowError(.badRequest, "this model takes several inputs; 'inputs' must be an object keyed by input name")
        }
        let input = graph.inputs[0]
        let (values, shape) = try TensorJSON.flatten(inputs, what: "input '\(input.name)'")
        return [input.name: try TensorJSON.tensor(values, shape: shape, for: input)]
    }

    static func encode(_ outputs: [String: Tensor], graph: ModelGraph, format: Format) -> String {
        var out = ""
        let ordered = graph.outputs.compactMap { signature in outputs[signature.name].map { (signature.name, $0) } }
        switch format {
        case .columnar:
            out.append("{\"outputs\":")
            if ordered.count == 1 {
                TensorJSON.appendNested(ordered[0].1, to: &out)
            } else {
                out.append("{")
                for (i, (name, tensor)) in ordered.enumerated() {
                    if i > 0 { out.append(",") }
                    out.append(TensorJSON.quoted(name) + ":")
                    TensorJSON.appendNested(tensor, to: &out)
                }
                out.append("}")
            }
            out.append("}")
        case .row:
            out.append("{\"predictions\":")
            if ordered.count == 1 {
                TensorJSON.appendNested(ordered[0].1, to: &out)
            } else {
                let rows = ordered.first?.1.shape.first ?? 0
                out.append("[")
                for r in 0..<rows {
                    if r > 0 { out.append(",") }
                    out.append("{")
                    for (i, (name, tensor)) in ordered.enumerated() {
                        if i > 0 { out.append(",") }
                        out.append(TensorJSON.quoted(name) + ":")
                        let stride = tensor.shape.dropFirst().reduce(1, *)
                        TensorJSON.appendNested(tensor, from: 1, offset: r * stride, to: &out)
                    }
                    out.append("}")
                }
                out.append("]")
            }
            out.append("}")
        }
        return out
    }
}
