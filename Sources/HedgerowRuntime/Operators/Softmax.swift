import CHedgerowKernels
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

    /// Softmax over `length` values spaced `inner` apart, for each of `outer`·`inner` lines. Lines along the last
    /// axis (`inner` 1, the usual case) run in CHedgerowKernels, eight lanes wide where the CPU has AVX2; a NaN in a
    /// line makes the line NaN.
    static func softmax(_ x: [Float], outer: Int, length: Int, inner: Int, log: Bool) -> [Float] {
        guard !x.isEmpty, length > 0 else { return x }
        return [Float].pooled(count: x.count) { buffer in
            x.withUnsafeBufferPointer { source in
                // Non-nil: both hold x.count > 0 elements.
                let (input, output) = (source.baseAddress!, buffer.baseAddress!)
                if inner == 1 {
                    hedgerow_softmax_rows(input, output, outer, length, log ? 1 : 0)
                } else {
                    strided(input, output, outer: outer, length: length, inner: inner, log: log)
                }
            }
        }
    }

    private static func strided(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, outer: Int, length: Int, inner: Int, log: Bool) {
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * length * inner + i
                var m = -Float.infinity
                for j in 0..<length { m = x[base + j * inner].isNaN || m.isNaN ? .nan : max(m, x[base + j * inner]) }
                var sum: Float = 0
                for j in 0..<length {
                    let e = FastMath.exp(x[base + j * inner] - m)
                    out[base + j * inner] = e
                    sum += e
                }
                if log {
                    let shift = m + logf(sum)
                    for j in 0..<length { out[base + j * inner] = x[base + j * inner] - shift }
                } else {
                    let inverse = 1 / sum
                    for j in 0..<length { out[base + j * inner] *= inverse }
                }
            }
        }
    }
}
