import HedgerowCore

/// Operators that change how values are viewed, never the values: the result shares the input's storage.
/// Target shapes and axes are data (a model's constants, a request's tensors): checked before any arithmetic.
enum ShapeOperators {
    /// Flatten to 2-D at `axis` (default 1): [d0·…·d(axis-1), d(axis)·…·d(n-1)].
    static let flatten: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        let axis = try Operators.axis(try node.int("axis", default: 1), rank: x.shape.count, node: node, allowRank: true)
        return [x.reshaped([x.shape[..<axis].dimensionProduct, x.shape[axis...].dimensionProduct])]
    }

    static let identity: Kernel = { node, args throws(HedgerowError) in
        [try Operators.input(args, 0, of: node)]
    }

    /// Reshape: 0 copies the input's dimension (unless `allowzero`), one -1 is inferred. The target shape is an
    /// input from opset 5, an attribute before.
    static func reshape(opset: Int) -> Kernel { { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        var shape: [Int]
        if opset < 5 {
            guard let given = try node.ints("shape") else { throw bad(node, "the shape attribute is required") }
            shape = given
        } else {
            shape = try Operators.input(args, 1, of: node).integers("Reshape shape of node '\(node.label)'")
        }
        let allowZero = try node.int("allowzero", default: 0) != 0
        for i in shape.indices where shape[i] == 0 && !allowZero {
            guard i < x.shape.count else { throw bad(node, "shape \(TensorLimits.describe(shape)) copies dimension \(i) of an input of rank \(x.shape.count)") }
            shape[i] = x.shape[i]
        }
        let inferred = shape.indices.filter { shape[$0] == -1 }
        guard inferred.count <= 1, shape.allSatisfy({ $0 >= -1 }) else { throw bad(node, "invalid target shape \(TensorLimits.describe(shape))") }
        if let i = inferred.first {
            var known = shape
            known[i] = 1
            // nil when the product overflows: then no input can match it either.
            guard let k = Tensor.product(known), k > 0, x.count % k == 0 else { throw bad(node, "cannot reshape \(x.shape) to \(TensorLimits.describe(shape))") }
            shape[i] = x.count / k
        }
        guard try TensorLimits.count(shape, node: node, "target shape") == x.count else {
            throw bad(node, "cannot reshape \(x.shape) (\(x.count) values) to \(shape)")
        }
        return [x.reshaped(shape)]
    } }

    /// Squeeze: axes from an attribute before opset 13, from an optional input after; none means every 1.
    static func squeeze(opset: Int) -> Kernel {
        { node, args throws(HedgerowError) in
            let x = try Operators.input(args, 0, of: node)
            let given = try axesArgument(node, args, opset: opset, inputIndex: 1)
            let axes = try given.map { list throws(HedgerowError) in
                try Set(list.map { a throws(HedgerowError) in try Operators.axis(a, rank: x.shape.count, node: node) })
            } ?? Set(x.shape.indices.filter { x.shape[$0] == 1 })
            for a in axes where x.shape[a] != 1 { throw bad(node, "cannot squeeze axis \(a) of size \(x.shape[a]) in \(x.shape)") }
            return [x.reshaped(x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))]
        }
    }

    static func unsqueeze(opset: Int) -> Kernel {
        { node, args throws(HedgerowError) in
            let x = try Operators.input(args, 0, of: node)
            guard let given = try axesArgument(node, args, opset: opset, inputIndex: 1) else { throw bad(node, "axes are required") }
            let rank = x.shape.count + given.count
            let axes = try given.map { a throws(HedgerowError) in try Operators.axis(a, rank: rank, node: node) }
            guard Set(axes).count == axes.count else { throw bad(node, "axes \(TensorLimits.describe(given)) repeat an axis") }
            // The axes are distinct and inside 0..<rank, so exactly x's rank positions are left for x's dimensions.
            let inserted = Set(axes)
            var shape = [Int](repeating: 1, count: rank)
            var source = x.shape.makeIterator()
            for d in 0..<rank where !inserted.contains(d) { shape[d] = source.next() ?? 1 }
            _ = try TensorLimits.count(shape, node: node)  // the rank grows with the number of axes
            return [x.reshaped(shape)]
        }
    }

    /// `axes` as an attribute (before `inputOpset`) or as an optional int64 input.
    static func axesArgument(_ node: Node, _ args: [Tensor?], opset: Int, inputIndex: Int, inputOpset: Int = 13) throws(HedgerowError) -> [Int]? {
        if opset < inputOpset { return try node.ints("axes") }
        guard inputIndex < args.count, let t = args[inputIndex] else { return nil }
        return try t.integers("axes of node '\(node.label)'")
    }

    /// Shape, with `start`/`end` (opset 15) clamped as the spec says.
    static let shape: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        let rank = x.shape.count
        func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + rank : v, 0), rank) }
        let start = clamp(try node.int("start", default: 0)), end = clamp(try node.int("end", default: rank))
        let dims = start < end ? Array(x.shape[start..<end]) : []
        return [Tensor(shape: [dims.count], int64s: dims.map { Int64($0) })]
    }

    /// Dropout at inference is the identity; the optional mask output is all true. Training mode is refused.
    static let dropout: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        if args.count > 2, let training = args[2], try training.bools("training_mode").first == true {
            let ratio = try args[1].map { t throws(HedgerowError) in try t.floats("ratio").first ?? 0.5 } ?? 0.5
            if ratio > 0 { throw bad(node, "training mode (random dropout) is not supported for serving") }
        }
        var outputs = [x]
        if node.outputs.count > 1 { outputs.append(Tensor(shape: x.shape, bools: [Bool](repeating: true, count: x.count))) }
        return outputs
    }

    /// Expand: broadcast the input to a shape (bidirectionally, so the result may be bigger than the shape).
    static let expand: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        let target = try Operators.input(args, 1, of: node).integers("Expand shape of node '\(node.label)'")
        _ = try TensorLimits.count(target, node: node, "target shape")
        let shape = try Broadcast.shape(x.shape, target, node: node.label)
        return [x.strided(shape: shape, strides: Broadcast.strides(of: x.shape, in: shape))]
    }

    static func bad(_ node: Node, _ message: String) -> HedgerowError {
        HedgerowError(.badRequest, "node '\(node.label)' (\(node.opType)): \(message)")
    }
}
