import HedgerowCore

/// Operators that only change how values are viewed.
enum ShapeOperators {
    /// Flatten to 2-D at `axis` (default 1): [d0·…·d(axis-1), d(axis)·…·d(n-1)].
    static let flatten: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        let axis = try Softmax.normalizedAxis(try node.int("axis", default: 1), rank: x.shape.count, node: node, allowRank: true)
        return [x.reshaped([x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)])]
    }

    static let identity: Kernel = { node, args throws(HedgerowError) in
        [try Operators.input(args, 0, of: node)]
    }
}
