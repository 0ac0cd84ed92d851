import HedgerowCore

/// The scikit-learn preprocessing steps as ai.onnx.ml exports them: Scaler, Normalizer, Imputer, Binarizer and
/// ArrayFeatureExtractor. Parameters are read and checked at load; a run is one pass over the input.
enum Preprocessing {
    /// `(x − offset) · scale`, per column (one value for every column, or one per column), as Float.
    static func scaler(_ node: Node) throws(HedgerowError) -> Kernel {
        let offset = try node.floats("offset") ?? [0]
        let scale = try node.floats("scale") ?? [1]
        guard !offset.isEmpty, !scale.isEmpty else { throw HedgerowError(.loadFailed, "node '\(node.label)' (Scaler): offset and scale must not be empty") }
        return { node, args throws(HedgerowError) in
            let x = try MLOperators.rows(try Operators.input(args, 0, of: node), of: node)
            for (name, list) in [("offset", offset.count), ("scale", scale.count)] where list != 1 && list != x.features {
                throw HedgerowError(.badRequest, "node '\(node.label)' (Scaler): \(name) has \(list) values for \(x.features) columns")
            }
            var out = x.values
            for r in 0..<x.rows {
                for c in 0..<x.features {
                    let i = r * x.features + c
                    out[i] = (out[i] - offset[offset.count == 1 ? 0 : c]) * scale[scale.count == 1 ? 0 : c]
                }
            }
            return [Tensor(shape: try Operators.input(args, 0, of: node).shape, floats: out)]
        }
    }

    /// Each row divided by its MAX, L1 or L2 norm (a row whose norm is 0 is left as it is).
    static func normalizer(_ node: Node) throws(HedgerowError) -> Kernel {
        let norm = try node.string("norm", default: "MAX")
        guard ["MAX", "L1", "L2"].contains(norm) else {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (Normalizer): norm must be MAX, L1 or L2, got '\(norm.prefix(40))'")
        }
        return { node, args throws(HedgerowError) in
            let input = try Operators.input(args, 0, of: node)
            let x = try MLOperators.rows(input, of: node)
            var out = x.values
            for r in 0..<x.rows {
                let range = (r * x.features)..<((r + 1) * x.features)
                var n: Float
                switch norm {
                case "MAX": n = out[range].max() ?? 0
                case "L1": n = out[range].reduce(0) { $0 + Swift.abs($1) }
                default: n = out[range].reduce(0) { $0 + $1 * $1 }.squareRoot()
                }
                if n != 0 { for i in range { out[i] /= n } }
            }
            return [Tensor(shape: input.shape, floats: out)]
        }
    }

    /// Values equal to `replaced_value_float` (NaN by default: missing values) become `imputed_value_floats` (one
    /// value, or one per column).
    static func imputer(_ node: Node) throws(HedgerowError) -> Kernel {
        let imputed = try node.floats("imputed_value_floats") ?? []
        let replaced = try node.float("replaced_value_float", default: .nan)
        guard !imputed.isEmpty else {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (Imputer): imputed_value_floats is required (integer imputation is not supported)")
        }
        return { node, args throws(HedgerowError) in
            let input = try Operators.input(args, 0, of: node)
            let x = try MLOperators.rows(input, of: node)
            guard imputed.count == 1 || imputed.count == x.features else {
                throw HedgerowError(.badRequest, "node '\(node.label)' (Imputer): \(imputed.count) imputed values for \(x.features) columns")
            }
            var out = x.values
            for i in out.indices where replaced.isNaN ? out[i].isNaN : out[i] == replaced {
                out[i] = imputed[imputed.count == 1 ? 0 : i % max(x.features, 1)]
            }
            return [Tensor(shape: input.shape, floats: out)]
        }
    }

    /// 1 where `x > threshold`, else 0, element by element over any shape, as Float; a NaN is a 400, as in
    /// onnxruntime. Without a threshold the ONNX default, 0, applies (onnxruntime takes 1; skl2onnx always writes
    /// the threshold).
    static func binarizer(_ node: Node) throws(HedgerowError) -> Kernel {
        let threshold = try node.float("threshold", default: 0)
        return { node, args throws(HedgerowError) in
            let input = try Operators.input(args, 0, of: node)
            guard input.elementType != .bool && input.elementType != .string else {
                throw HedgerowError(.badRequest, "node '\(node.label)' (Binarizer): input must be numeric, got \(input.elementType)")
            }
            let values = try Cast.convert(input, to: .float32, node: node).floats("")
            if values.contains(where: \.isNaN) {
                throw HedgerowError(.badRequest, "node '\(node.label)' (Binarizer): the input holds NaN")
            }
            return [Tensor(shape: input.shape, floats: values.map { $0 > threshold ? 1 : 0 })]
        }
    }

    /// The columns named by the second input (int64 indices into the last axis): shape `X[..., :-1] + [k]`.
    static let arrayFeatureExtractor: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        let indices = try Operators.input(args, 1, of: node).integers("ArrayFeatureExtractor indices of node '\(node.label)'")
        guard let last = x.shape.last, !indices.isEmpty else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (ArrayFeatureExtractor): needs a tensor of rank ≥ 1 and at least one index")
        }
        if let bad = indices.first(where: { $0 < 0 || $0 >= last }) {
            throw HedgerowError(.badRequest, "node '\(node.label)' (ArrayFeatureExtractor): index \(bad) is out of range for \(last) columns")
        }
        let outer = last == 0 ? 0 : x.count / last
        // A 1-D input is one row: [1, k], as onnxruntime answers.
        let shape = x.shape.count == 1 ? [1, indices.count] : Array(x.shape.dropLast()) + [indices.count]
        _ = try TensorLimits.count(shape, what: "output of node '\(node.label)'", kind: .badRequest)
        func pick<T>(_ values: [T]) -> [T] {
            var out: [T] = []
            out.reserveCapacity(outer * indices.count)
            for r in 0..<outer { for i in indices { out.append(values[r * last + i]) } }
            return out
        }
        switch x.storage {
        case .float32(let v): return [Tensor(shape: shape, floats: pick(v))]
        case .int64(let v): return [Tensor(shape: shape, int64s: pick(v))]
        case .int32(let v): return [Tensor(shape: shape, int32s: pick(v))]
        case .bool(let v): return [Tensor(shape: shape, bools: pick(v))]
        case .string(let v): return [Tensor(shape: shape, strings: pick(v))]
        }
    }
}
