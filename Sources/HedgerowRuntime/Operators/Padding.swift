import HedgerowCore

/// Pad (every opset: `pads` as an attribute before 11, as inputs with `constant_value` and, from 18, `axes`) and
/// Tile. Both work out, per axis, which input coordinate each output coordinate reads (or none, for a constant
/// border), then copy with `Tensor.picking`, so any element type is served. Pads and repeats are data: the output
/// shape is checked against `TensorLimits` before anything is built.
enum Padding {
    enum Mode: String { case constant, reflect, edge, wrap }

    static func pad(opset: Int) -> Kernel {
        { node, args throws(HedgerowError) in
            let x = try Operators.input(args, 0, of: node)
            let rank = x.shape.count
            let name = try node.string("mode", default: "constant")
            guard let mode = Mode(rawValue: name) else { throw ShapeOperators.bad(node, "mode must be constant, reflect, edge or wrap, got '\(name.prefix(40))'") }
            var pads: [Int]
            var fill = Tensor(shape: [], floats: [0])
            var axes = Array(0..<rank)
            if opset < 11 {
                let named = try node.ints("pads"), older = try node.ints("paddings")
                pads = named ?? older ?? []
                fill = Tensor(shape: [], floats: [try node.float("value", default: 0)])
            } else {
                pads = try Operators.input(args, 1, of: node).integers("pads of node '\(node.label)'")
                if args.count > 2, let value = args[2] {
                    guard value.count == 1 else { throw ShapeOperators.bad(node, "constant_value must be one value, got shape \(value.shape)") }
                    fill = value.reshaped([])
                }
                if args.count > 3, let given = args[3] {
                    axes = try given.integers("axes of node '\(node.label)'").map { a throws(HedgerowError) in try Operators.axis(a, rank: rank, node: node) }
                }
            }
            guard pads.count == 2 * axes.count else { throw ShapeOperators.bad(node, "pads has \(pads.count) values for \(axes.count) axes (two per axis)") }
            var begin = [Int](repeating: 0, count: rank), end = [Int](repeating: 0, count: rank)
            for (i, axis) in axes.enumerated() {
                guard abs(pads[i]) <= TensorLimits.maxElements, abs(pads[i + axes.count]) <= TensorLimits.maxElements else {
                    throw ShapeOperators.bad(node, "pads \(TensorLimits.describe(pads)) are out of range")
                }
                (begin[axis], end[axis]) = (pads[i], pads[i + axes.count])
            }
            let shape = (0..<rank).map { x.shape[$0] + begin[$0] + end[$0] }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw ShapeOperators.bad(node, "pads \(TensorLimits.describe(pads)) crop more than shape \(x.shape) holds") }
            _ = try TensorLimits.count(shape, node: node)
            if mode != .constant, let empty = (0..<rank).first(where: { x.shape[$0] == 0 && shape[$0] > 0 }) {
                throw ShapeOperators.bad(node, "\(mode.rawValue) padding needs values along axis \(empty), which is empty")
            }
            let maps = (0..<rank).map { d in
                (0..<shape[d]).map { o in source(o - begin[d], size: x.shape[d], mode: mode) }
            }
            let fillValue = try Cast.convert(fill, to: x.elementType, node: node)
            return [try gather(x, maps: maps, shape: shape, fill: fillValue, node: node)]
        }
    }

    /// The input coordinate an output coordinate reads along one axis (`at` is relative to the input's start),
    /// or -1 for the constant border.
    static func source(_ at: Int, size: Int, mode: Mode) -> Int {
        if at >= 0 && at < size { return at }
        switch mode {
        case .constant: return -1
        case .edge: return at < 0 ? 0 : size - 1
        case .wrap: return ((at % size) + size) % size
        case .reflect:
            guard size > 1 else { return 0 }
            let period = 2 * (size - 1)
            let m = ((at % period) + period) % period
            return m < size ? m : period - m
        }
    }

    /// Tile: each axis repeated `repeats[d]` times.
    static let tile: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        let repeats = try Operators.input(args, 1, of: node).integers("repeats of node '\(node.label)'")
        guard repeats.count == x.shape.count, repeats.allSatisfy({ $0 >= 0 && $0 <= TensorLimits.maxElements }) else {
            throw ShapeOperators.bad(node, "repeats \(TensorLimits.describe(repeats)) must hold one count ≥ 0 per axis of shape \(x.shape)")
        }
        var shape: [Int] = []
        for (d, r) in repeats.enumerated() {
            let (n, overflow) = x.shape[d].multipliedReportingOverflow(by: r)
            guard !overflow else { throw ShapeOperators.bad(node, "repeats \(TensorLimits.describe(repeats)) make too large a tensor") }
            shape.append(n)
        }
        _ = try TensorLimits.count(shape, node: node)
        let maps = (0..<shape.count).map { d in (0..<shape[d]).map { $0 % x.shape[d] } }
        return [try gather(x, maps: maps, shape: shape, fill: nil, node: node)]
    }

    /// The tensor of `shape` whose element at (i₀, i₁, …) is x's at (maps[0][i₀], maps[1][i₁], …), or `fill`
    /// where any map holds -1.
    static func gather(_ x: Tensor, maps: [[Int]], shape: [Int], fill: Tensor?, node: Node) throws(HedgerowError) -> Tensor {
        let strides = DataMovement.strides(x.shape)
        let fillIndex = x.count
        var picks: [Int] = []
        picks.reserveCapacity(shape.dimensionProduct)
        func walk(_ d: Int, _ offset: Int) {
            if d == shape.count { picks.append(offset); return }
            for source in maps[d] {
                if source < 0 || offset == fillIndex {
                    // The constant border: every element below this one is the fill value.
                    walk(d + 1, fillIndex)
                } else {
                    walk(d + 1, offset + source * strides[d])
                }
            }
        }
        if shape.dimensionProduct > 0 { walk(0, 0) }
        guard let storage = fill.map({ Tensor.Storage.joined([x.storage, $0.storage]) }) ?? x.storage else {
            throw ShapeOperators.bad(node, "the constant value's type differs from the input's")
        }
        return Tensor(shape: shape, storage: storage.picking(picks))
    }
}
