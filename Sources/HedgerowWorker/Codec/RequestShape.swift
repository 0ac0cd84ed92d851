import Foundation
import HedgerowCore
import HedgerowRuntime

/// Shapes a request states (KServe v2 `shape`) or implies (nested lists), checked before anything is allocated.
///
/// Invariants after `elementCount` or `check` succeed: the rank is at most `maxRank`, every dimension is a
/// non-negative `Int`, and the product of the dimensions was computed without overflow. `check` also holds the
/// shape to the model's declared signature (rank, and every fixed dimension), so a tensor the model cannot take
/// is refused with the expected and the given shape before its values are converted.
enum RequestShape {
    /// No model input has more dimensions than this (ONNX models in practice stay under 8).
    static let maxRank = 32
    /// A dimension larger than this cannot be backed by a body under any sane size limit; refusing it early keeps
    /// every later product far from overflow.
    static let maxDimension = 1 << 40

    /// Reads a KServe v2 `shape` list: non-negative integers only (no booleans, fractions, strings, or numbers
    /// outside `0...maxDimension`, whatever their JSON spelling: `1e300`, `18446744073709551616`, `-0` is 0).
    static func parse(_ value: JSONNode?, input name: String) throws(HedgerowError) -> [Int] {
        guard let list = value?.elements else {
            throw HedgerowError(.badRequest, "input '\(name)' has no 'shape' list")
        }
        guard list.count <= maxRank else {
            throw HedgerowError(.badRequest, "input '\(name)': shape has \(list.count) dimensions; at most \(maxRank) are supported")
        }
        var shape: [Int] = []
        shape.reserveCapacity(list.count)
        for (i, dim) in list.enumerated() {
            guard case .number(let d) = dim else {
                throw HedgerowError(.badRequest, "input '\(name)': shape \(text(list)) has \(dim.kind) at position \(i); dimensions are non-negative integers")
            }
            guard d.isFinite, d.rounded() == d, d >= 0, d <= Double(maxDimension) else {
                throw HedgerowError(.badRequest, "input '\(name)': shape \(text(list)) has \(JSONNode.text(d)) at position \(i); dimensions are integers from 0 to \(maxDimension)")
            }
            shape.append(Int(d))
        }
        return shape
    }

    /// Reads a gRPC `shape` (int64 dimensions) under the same rules as `parse`.
    static func parse(_ dims: [Int64], input name: String) throws(HedgerowError) -> [Int] {
        guard dims.count <= maxRank else {
            throw HedgerowError(.badRequest, "input '\(name)': shape has \(dims.count) dimensions; at most \(maxRank) are supported")
        }
        if let i = dims.firstIndex(where: { $0 < 0 || $0 > Int64(maxDimension) }) {
            throw HedgerowError(.badRequest, "input '\(name)': shape \(dims) has \(dims[i]) at position \(i); dimensions are integers from 0 to \(maxDimension)")
        }
        return dims.map { Int($0) }
    }

    /// The number of elements `shape` describes, or a 400 naming the input and the shape when the product does not
    /// fit in an `Int` (the request of issue 11: `[4611686018427387904, 4]`).
    static func elementCount(_ shape: [Int], input name: String) throws(HedgerowError) -> Int {
        // A zero anywhere makes the tensor empty whatever the other dimensions say; multiplying them first could
        // overflow for nothing.
        if shape.contains(0) { return 0 }
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, d >= 0 else {
                throw HedgerowError(.badRequest, "input '\(name)': shape \(shape) describes more elements than can be addressed")
            }
            count = product
        }
        return count
    }

    /// Holds `shape` to what the model declares for this input: the same rank, and the declared size for every
    /// fixed dimension (dynamic ones take any size).
    static func check(_ shape: [Int], against signature: TensorSignature) throws(HedgerowError) {
        let matches = shape.count == signature.shape.count
            && zip(shape, signature.shape).allSatisfy { given, expected in expected == nil || expected == given }
        guard matches else {
            throw HedgerowError(.badRequest, "input '\(signature.name)': expected shape \(text(signature.shape)), got \(shape)")
        }
    }

    /// The shape as the request spelled it, for messages (long lists are cut: the count is what matters).
    static func text(_ list: [JSONNode]) -> String {
        let shown = list.prefix(8).map { item -> String in
            switch item {
            case .number(let number): JSONNode.text(number)
            case .bool(let flag): flag ? "true" : "false"
            case .string: "\"…\""
            default: item.kind
            }
        }
        return "[" + shown.joined(separator: ", ") + (list.count > 8 ? ", … (\(list.count) dimensions)" : "") + "]"
    }

    /// `[N, 64]`: the declared shape with `N` for a dynamic dimension, as the runtime writes it.
    static func text(_ shape: [Int?]) -> String {
        "[" + shape.map { $0.map(String.init) ?? "N" }.joined(separator: ", ") + "]"
    }

    /// Elements per step of dimension `dim - 1`: the product of `shape[dim...]`, 0 if any of them is 0. Used by
    /// the encoders on tensors the runtime produced; a hostile model can still produce `[0, 2^40, 2^40]`, whose
    /// count is 0 but whose trailing product overflows, hence the zero test first and the reported overflow.
    static func stride(_ shape: [Int], from dim: Int) -> Int {
        let tail = shape[min(dim, shape.count)...]
        if tail.contains(0) { return 0 }
        var product = 1
        for d in tail {
            let (next, overflow) = product.multipliedReportingOverflow(by: d)
            product = overflow ? Int.max : next
        }
        return product
    }
}
