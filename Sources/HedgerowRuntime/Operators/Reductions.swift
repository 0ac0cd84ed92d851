import HedgerowCore

/// ReduceSum, ReduceMean, ReduceMax and ArgMax. Axes come from an attribute before the opset where they became
/// an input (13 for ReduceSum, 18 for the others); no axes means every axis, unless `noop_with_empty_axes`.
enum Reductions {
    enum Kind { case sum, mean, max }

    static func reduce(_ kind: Kind, opset: Int) -> Kernel {
        let inputOpset = kind == .sum ? 13 : 18
        return { node, args throws(HedgerowError) in
            let x = try Operators.input(args, 0, of: node)
            let keepDims = try node.int("keepdims", default: 1) != 0
            let given = try ShapeOperators.axesArgument(node, args, opset: opset, inputIndex: 1, inputOpset: inputOpset) ?? []
            let noop = try node.int("noop_with_empty_axes", default: 0) != 0
            if given.isEmpty && noop { return [x] }
            let axes = given.isEmpty ? Set(x.shape.indices)
                : Set(try given.map { a throws(HedgerowError) in try Operators.axis(a, rank: x.shape.count, node: node) })
            var outShape: [Int] = []
            for (d, size) in x.shape.enumerated() {
                if !axes.contains(d) { outShape.append(size) } else if keepDims { outShape.append(1) }
            }
            // The output element each input element folds into, in the input's row-major order.
            let keptShape = x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
            let keptStrides = DataMovement.strides(keptShape)
            let target = DataMovement.offsets(shape: x.shape, strides: x.shape.indices.map { axes.contains($0) ? 0 : keptStrides[$0] })
            let n = outShape.dimensionProduct
            let folded = x.count / max(n, 1)
            switch x.storage {
            case .float32(let v):
                var out = [Float](repeating: kind == .max ? -.infinity : 0, count: n)
                for (i, t) in target.enumerated() { out[t] = kind == .max ? Swift.max(out[t], v[i]) : out[t] + v[i] }
                if kind == .mean { out = out.map { folded == 0 ? .nan : $0 / Float(folded) } }
                return [Tensor(shape: outShape, floats: out)]
            case .int64(let v):
                var out = [Int64](repeating: kind == .max ? .min : 0, count: n)
                for (i, t) in target.enumerated() { out[t] = kind == .max ? Swift.max(out[t], v[i]) : out[t] &+ v[i] }
                if kind == .mean { out = out.map { folded == 0 ? 0 : $0 / Int64(folded) } }
                return [Tensor(shape: outShape, int64s: out)]
            case .int32(let v):
                var out = [Int32](repeating: kind == .max ? .min : 0, count: n)
                for (i, t) in target.enumerated() { out[t] = kind == .max ? Swift.max(out[t], v[i]) : out[t] &+ v[i] }
                // folded ≤ maxElements (2^28), so it fits in Int32.
                if kind == .mean { out = out.map { folded == 0 ? 0 : $0 / Int32(folded) } }
                return [Tensor(shape: outShape, int32s: out)]
            case .bool, .string:
                throw ShapeOperators.bad(node, "input must be numeric, got \(x.elementType)")
            }
        }
    }

    /// ArgMax along `axis`: the first maximum's index, or the last with `select_last_index`; int64.
    static let argMax: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        let axis = try Operators.axis(try node.int("axis", default: 0), rank: x.shape.count, node: node)
        let keepDims = try node.int("keepdims", default: 1) != 0, last = try node.int("select_last_index", default: 0) != 0
        let values: [Float]
        switch x.storage {
        case .float32(let v): values = v
        case .int64(let v): values = v.map { Float($0) }
        case .int32(let v): values = v.map { Float($0) }
        case .bool, .string: throw ShapeOperators.bad(node, "input must be numeric, got \(x.elementType)")
        }
        let outer = x.shape[..<axis].dimensionProduct, length = x.shape[axis], inner = x.shape[(axis + 1)...].dimensionProduct
        guard length > 0 else { throw ShapeOperators.bad(node, "cannot take the maximum of an empty axis") }
        var out = [Int64](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0, bestValue = values[o * length * inner + i]
                for j in 1..<length {
                    let v = values[(o * length + j) * inner + i]
                    if v > bestValue || (last && v == bestValue) { best = j; bestValue = v }
                }
                out[o * inner + i] = Int64(best)
            }
        }
        var shape = x.shape
        if keepDims { shape[axis] = 1 } else { shape.remove(at: axis) }
        return [Tensor(shape: shape, int64s: out)]
    }
}
