import Foundation
import HedgerowCore

/// Element-wise operators. Binary ones broadcast numpy-style.
enum Elementwise {
    static let add: Kernel = { node, args throws(HedgerowError) in
        let a = try Operators.input(args, 0, of: node), b = try Operators.input(args, 1, of: node)
        switch (a.storage, b.storage) {
        case (.float32(let x), .float32(let y)):
            let (out, shape) = try Broadcast.binary(x, a.shape, y, b.shape, node: node.label, +)
            return [Tensor(shape: shape, floats: out)]
        case (.int64(let x), .int64(let y)):
            let (out, shape) = try Broadcast.binary(x, a.shape, y, b.shape, node: node.label, &+)
            return [Tensor(shape: shape, int64s: out)]
        default:
            throw HedgerowError(.badRequest, "node '\(node.label)' (Add): operands have different datatypes (\(a.elementType), \(b.elementType))")
        }
    }

    static let relu: Kernel = unary("Relu") { max($0, 0) }
    static let sigmoid: Kernel = unary("Sigmoid") { x in x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x)) }

    static func unary(_ name: String, _ f: @escaping @Sendable (Float) -> Float) -> Kernel {
        { node, args throws(HedgerowError) in
            let x = try Operators.input(args, 0, of: node)
            let values = try x.floats("\(name) input of node '\(node.label)'")
            return [Tensor(shape: x.shape, floats: values.map(f))]
        }
    }
}
