import Foundation
import HedgerowCore

/// Softmax and LogSoftmax, numerically stable (the maximum is subtracted before exponentiation).
enum Softmax {
    /// Opset 13+: along one axis (default -1). Before 13: the input is coerced to 2-D at `axis` (default 1) and
    /// each row is normalized.
    static func kernel(log: Bool, opset: Int) -> Kernel {
        { node, args throws(HedgerowError) in
            let x = try Operators.input(args, 0, of: node)
            let values = try x.floats("\(node.opType) input of node '\(node.label)'")
            let outer: Int, length: Int, inner: Int
            if opset >= 13 {
                let axis = try Operators.axis(try node.int("axis", default: -1), rank: x.shape.count, node: node)
                (outer, length, inner) = (x.shape[..<axis].dimensionProduct, x.shape[axis], x.shape[(axis + 1)...].dimensionProduct)
            } else {
                let axis = try Operators.axis(try node.int("axis", default: 1), rank: x.shape.count, node: node, allowRank: true)
                (outer, length, inner) = (x.shape[..<axis].dimensionProduct, x.shape[axis...].dimensionProduct, 1)
            }
            return [Tensor(shape: x.shape, floats: softmax(values, outer: outer, length: length, inner: inner, log: log))]
        }
    }

    static func softmax(_ x: [Float], outer: Int, length: Int, inner: Int, log: Bool) -> [Float] {
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
                if log {
                    let logSum = logf(sum)
                    for j in 0..<length { out[base + j * inner] = x[base + j * inner] - m - logSum }
                } else {
                    for j in 0..<length { out[base + j * inner] /= sum }
                }
            }
        }
        return out
    }
}
