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

    /// One feed dictionary holding every request's rows in order. All requests must share a `BatchKey`.
    public static func merge(_ requests: [[String: Tensor]]) -> [String: Tensor] {
        guard let first = requests.first else { return [:] }
        if requests.count == 1 { return first }
        var merged: [String: Tensor] = [:]
        for (name, tensor) in first {
            let parts = requests.map { $0[name]! }
            let rows = parts.reduce(0) { $0 + $1.shape[0] }
            let storage = Tensor.Storage.joined(parts.map(\.storage))!
            merged[name] = Tensor(shape: [rows] + tensor.shape.dropFirst(), storage: storage)
        }
        return merged
    }

    /// Each request's outputs, cut from the batch's by its row count; nil if some output is not batch-shaped.
    public static func split(_ outputs: [String: Tensor], rows: [Int]) -> [[String: Tensor]]? {
        let total = rows.reduce(0, +)
        if rows.count == 1 { return [outputs] }
        guard outputs.values.allSatisfy({ $0.shape.first == total }) else { return nil }
        var result = Array(repeating: [String: Tensor](), count: rows.count)
        for (name, tensor) in outputs {
            let rowSize = tensor.shape.dropFirst().reduce(1, *)
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
        }
    }
}
