import Foundation
import HedgerowCore

/// Softmax, numerically stable (the row maximum is subtracted before exponentiation).
enum Softmax {
    /// Opset 13+: along one axis (default -1).
    static let opset13: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        let axis = try normalizedAxis(try node.int("axis", default: -1), rank: x.shape.count, node: node)
        let outer = x.shape[..<axis].reduce(1, *), length = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
        return [Tensor(shape: x.shape, floats: softmax(try x.floats("Softmax input"), outer: outer, length: length, inner: inner))]
    }

    /// Before opset 13: the input is coerced to 2-D at `axis` (default 1) and each row is normalized.
    static let legacy: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        let axis = try normalizedAxis(try node.int("axis", default: 1), rank: x.shape.count, node: node, allowRank: true)
        let outer = x.shape[..<axis].reduce(1, *), length = x.shape[axis...].reduce(1, *)
        return [Tensor(shape: x.shape, floats: softmax(try x.floats("Softmax input"), outer: outer, length: length, inner: 1))]
    }

    static func normalizedAxis(_ axis: Int, rank: Int, node: Node, allowRank: Bool = false) throws(HedgerowError) -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0, a < rank || (allowRank && a == rank) else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (\(node.opType)): axis \(axis) is out of range for rank \(rank)")
        }
        return a
    }

    static func softmax(_ x: [Float], outer: Int, length: Int, inner: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * length * inner + i
                var m = -Float.infinity
                for j in 0..<length { m = max(m, x[base + j * inner]) }
                var sum: Float = 0
                for j in 0..<length {
                    let e = expf(x[base + j * inner] - m)
                    out[base + j * inner] = e
                    sum += e
                }
                for j in 0..<length { out[base + j * inner] /= sum }
            }
        }
        return out
    }
}
