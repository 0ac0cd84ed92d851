import HedgerowCore

/// Merging the inputs of several requests into one batch along the first dimension, and splitting the outputs back.
///
/// A graph can batch when every input has a dynamic first dimension. Merging is only correct for models whose rows
/// do not see each other (true of classifiers, recommenders and encoders run per example); a model that mixes rows
/// must be served with `maxBatchSize: 1`. Splitting refuses (returns nil) when an output's first dimension is not the
/// batch's row count, and the caller then runs the requests one by one.
public enum BatchAssembly {
    /// Whether requests to this graph can be merged at all.
    public static func canBatch(_ graph: ModelGraph) -> Bool {
        !graph.inputs.isEmpty && graph.inputs.allSatisfy { $0.shape.count >= 1 && $0.shape[0] == nil }
    }

    /// The rows a request adds and the key it merges under; nil when its feeds cannot join any batch (no inputs,
    /// a scalar, or inputs that disagree on the first dimension): such a request runs alone and meets the graph's
    /// own error message if it is malformed.
    public static func shape(of feeds: [String: Tensor]) -> (rows: Int, key: BatchKey)? {
        guard let rows = feeds.first?.value.shape.first else { return nil }
        var dims: [String: [Int]] = [:]
        var types: [String: ElementType] = [:]
        for (name, tensor) in feeds {
            guard tensor.shape.first == rows else { return nil }
            dims[name] = Array(tensor.shape.dropFirst())
            types[name] = tensor.elementType
        }
        return (rows, BatchKey(inputs: dims, types: types))
    }

    /// One feed dictionary holding every request's rows in order. All requests must share a `BatchKey` (the
    /// batcher groups them by it): then every request has every input, of one element type and one shape after the
    /// first dimension. If they do not, the result is empty: running it fails with the graph's "missing input"
    /// error, and the caller runs the requests one by one.
    public static func merge(_ requests: [[String: Tensor]]) -> [String: Tensor] {
        guard let first = requests.first else { return [:] }
        if requests.count == 1 { return first }
        var merged: [String: Tensor] = [:]
        for (name, tensor) in first {
            let parts = requests.compactMap { $0[name] }
            let inner = Array(tensor.shape.dropFirst())
            guard parts.count == requests.count, parts.allSatisfy({ !$0.shape.isEmpty && Array($0.shape.dropFirst()) == inner }),
                  let storage = Tensor.Storage.joined(parts.map(\.storage)) else { return [:] }
            // Rows add up to the joined storage's count over the inner size, so the shape holds it exactly.
            let rows = parts.reduce(0) { $0 + $1.shape[0] }
            merged[name] = Tensor(shape: [rows] + inner, storage: storage)
        }
        return merged
    }

    /// Each request's outputs, cut from the batch's by its row count; nil if some output is not batch-shaped.
    public static func split(_ outputs: [String: Tensor], rows: [Int]) -> [[String: Tensor]]? {
        if rows.count == 1 { return [outputs] }
        // Row counts come from requests' shapes (non-negative); checked anyway so a slice can never leave the storage.
        guard rows.allSatisfy({ $0 >= 0 && $0 <= TensorLimits.maxElements }) else { return nil }
        let total = rows.reduce(0, +)
        guard outputs.values.allSatisfy({ $0.shape.first == total }) else { return nil }
        var result = Array(repeating: [String: Tensor](), count: rows.count)
        for (name, tensor) in outputs {
            let rowSize = tensor.shape.dropFirst().dimensionProduct
            var start = 0
            for (i, n) in rows.enumerated() {
                result[i][name] = Tensor(
                    shape: [n] + tensor.shape.dropFirst(),
                    storage: tensor.storage.slice(start * rowSize..<(start + n) * rowSize)
                )
                start += n
            }
        }
        return result
    }
}

extension Tensor.Storage {
    /// A contiguous run of elements.
    func slice(_ range: Range<Int>) -> Tensor.Storage {
        switch self {
        case .float32(let v): .float32(Array(v[range]))
        case .int64(let v): .int64(Array(v[range]))
        case .int32(let v): .int32(Array(v[range]))
        case .bool(let v): .bool(Array(v[range]))
        case .string(let v): .string(Array(v[range]))
        }
    }
}
