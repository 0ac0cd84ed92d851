import HedgerowCore

/// TopK: the k largest (or smallest) values along an axis and their indices (int64), sorted, ties broken by the
/// lower index (as onnxruntime and the ONNX reference do). k is an attribute before opset 10, an input after;
/// it is data: a k larger than the axis is a 400.
enum TopK {
    static func kernel(opset: Int) -> Kernel {
        { node, args throws(HedgerowError) in
            let x = try Operators.input(args, 0, of: node)
            let axis = try Operators.axis(try node.int("axis", default: -1), rank: x.shape.count, node: node)
            let k = opset < 10 ? try node.int("k", default: -1) : try Operators.input(args, 1, of: node).integers("K of node '\(node.label)'").first ?? -1
            let length = x.shape[axis]
            guard k >= 0, k <= length else { throw ShapeOperators.bad(node, "k = \(k) must be from 0 to \(length), the size of axis \(axis)") }
            let largest = try node.int("largest", default: 1) != 0
            let values: [Float]
            switch x.storage {
            case .float32(let v): values = v
            case .int64(let v): values = v.map { Float($0) }
            case .int32(let v): values = v.map { Float($0) }
            default: throw ShapeOperators.bad(node, "input must be numeric, got \(x.elementType)")
            }
            let outer = x.shape[..<axis].dimensionProduct, inner = x.shape[(axis + 1)...].dimensionProduct
            var shape = x.shape
            shape[axis] = k
            var picks: [Int] = [], indices: [Int64] = []
            picks.reserveCapacity(shape.dimensionProduct)
            indices.reserveCapacity(shape.dimensionProduct)
            var order = [Int](repeating: 0, count: length)
            var chosen = [Int](repeating: 0, count: outer * inner * k)
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * length * inner + i
                    for j in 0..<length { order[j] = j }
                    // NaN sorts as the largest value, as in onnxruntime.
                    order.sort { a, b in
                        let (va, vb) = (values[base + a * inner], values[base + b * inner])
                        if va.isNaN || vb.isNaN { return va.isNaN != vb.isNaN ? (va.isNaN == largest) : a < b }
                        if va != vb { return largest ? va > vb : va < vb }
                        return a < b
                    }
                    for j in 0..<k { chosen[(o * k + j) * inner + i] = order[j] }
                }
            }
            for o in 0..<outer {
                for j in 0..<k {
                    for i in 0..<inner {
                        let source = chosen[(o * k + j) * inner + i]
                        picks.append(o * length * inner + source * inner + i)
                        indices.append(Int64(source))
                    }
                }
            }
            return [x.picking(picks, shape: shape), Tensor(shape: shape, int64s: indices)]
        }
    }
}
