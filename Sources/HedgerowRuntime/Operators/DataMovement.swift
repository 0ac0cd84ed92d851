import HedgerowCore

/// Operators that move values without computing on them: each works out, once per call, which input element
/// lands where, then copies with `Tensor.picking`, so every element type is served by the same code.
/// Input shapes are valid (`TensorLimits`); an output shape bigger than the input's (Gather, Concat) is checked
/// before its index list is built. Starts, ends, steps, sizes and indices are data: clamped or refused first.
enum DataMovement {
    /// Row-major strides of a valid shape.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1] }
        return s
    }

    /// Offsets `start + Σ index[d]·strides[d]` for every index of a valid `shape`, in row-major order. Callers
    /// pass strides that keep every offset inside the storage they pick from.
    static func offsets(shape: [Int], strides: [Int], start: Int = 0) -> [Int] {
        let n = shape.dimensionProduct
        guard n > 0 else { return [] }
        var out = [Int]()
        out.reserveCapacity(n)
        var index = [Int](repeating: 0, count: shape.count)
        var at = start
        for _ in 0..<n {
            out.append(at)
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1; at += strides[d]
                if index[d] < shape[d] { break }
                at -= strides[d] * index[d]; index[d] = 0
                d -= 1
            }
        }
        return out
    }

    static let transpose: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        let rank = x.shape.count
        let perm = try node.ints("perm") ?? Array((0..<rank).reversed())
        guard perm.sorted() == Array(0..<rank) else { throw ShapeOperators.bad(node, "perm \(TensorLimits.describe(perm)) is not a permutation of 0..<\(rank)") }
        return [permuted(x, perm)]
    }

    /// `x` with its axes in the order `perm` (a permutation of 0..<rank, checked by the caller).
    static func permuted(_ x: Tensor, _ perm: [Int]) -> Tensor {
        let inStrides = strides(x.shape)
        let shape = perm.map { x.shape[$0] }
        return x.strided(shape: shape, strides: perm.map { inStrides[$0] })
    }

    /// Slice: starts/ends/axes/steps as inputs (opset 10+) or attributes (before), clamped as the spec says.
    static func slice(opset: Int) -> Kernel {
        { node, args throws(HedgerowError) in
            let x = try Operators.input(args, 0, of: node)
            func list(_ index: Int, _ name: String) throws(HedgerowError) -> [Int]? {
                if opset < 10 { return try node.ints(name) }
                guard index < args.count, let t = args[index] else { return nil }
                return try t.integers("\(name) of node '\(node.label)'")
            }
            guard let starts = try list(1, "starts"), let ends = try list(2, "ends"), starts.count == ends.count else {
                throw ShapeOperators.bad(node, "starts and ends are required and must have the same length")
            }
            let axes = try (list(3, "axes") ?? Array(0..<starts.count)).map { a throws(HedgerowError) in try Operators.axis(a, rank: x.shape.count, node: node) }
            let steps = try list(4, "steps") ?? [Int](repeating: 1, count: starts.count)
            guard axes.count == starts.count, steps.count == starts.count, Set(axes).count == axes.count else {
                throw ShapeOperators.bad(node, "starts, ends, axes and steps must have one entry per distinct axis")
            }
            var shape = x.shape
            let inStrides = strides(x.shape)
            var walk = inStrides
            var start = 0
            for (i, axis) in axes.enumerated() {
                let dim = x.shape[axis]
                guard steps[i] != 0 else { throw ShapeOperators.bad(node, "steps must not be 0") }
                // Starts and ends are data, often ±INT64_MAX ("to the end"): adding dim ≥ 0 to a negative one cannot
                // overflow, and both are clamped into [-1, dim] before any other arithmetic. A step longer than the
                // axis takes one element at most, so it is clamped to ±max(dim, 1), which keeps count·step and the
                // walk stride within the tensor's size.
                let step = steps[i] > 0 ? min(steps[i], max(dim, 1)) : max(steps[i], -max(dim, 1))
                var s = starts[i] < 0 ? starts[i] + dim : starts[i]
                var e = ends[i] < 0 ? ends[i] + dim : ends[i]
                if step > 0 {
                    s = min(max(s, 0), dim); e = min(max(e, 0), dim)
                } else {
                    s = min(max(s, 0), dim - 1); e = min(max(e, -1), dim - 1)
                }
                let count = step > 0 ? (e > s ? (e - s - 1) / step + 1 : 0) : (s > e ? (s - e - 1) / -step + 1 : 0)
                shape[axis] = count
                if count > 0 { start += s * inStrides[axis] }
                walk[axis] = inStrides[axis] * step
            }
            return [x.strided(shape: shape, strides: walk, start: start)]
        }
    }

    /// Gather along `axis`: negative indices count from the end; one outside the axis is a 400, never a read
    /// out of bounds (an embedding lookup with an unknown id).
    static let gather: Kernel = { node, args throws(HedgerowError) in
        let data = try Operators.input(args, 0, of: node), indicesTensor = try Operators.input(args, 1, of: node)
        let axis = try Operators.axis(try node.int("axis", default: 0), rank: data.shape.count, node: node)
        let indices = try indicesTensor.integers("Gather indices of node '\(node.label)'")
        let dim = data.shape[axis]
        let outer = data.shape[..<axis].dimensionProduct, inner = data.shape[(axis + 1)...].dimensionProduct
        let shape = Array(data.shape[..<axis]) + indicesTensor.shape + Array(data.shape[(axis + 1)...])
        _ = try TensorLimits.count(shape, node: node)
        var resolved = [Int]()
        resolved.reserveCapacity(indices.count)
        for index in indices {
            let i = index < 0 ? index + dim : index
            guard i >= 0, i < dim else {
                throw HedgerowError(.badRequest, "node '\(node.label)' (Gather): index \(index) is out of range for axis \(axis) of size \(dim)")
            }
            resolved.append(i)
        }
        if case .float32(let table) = data.storage {
            // Embedding lookups: whole rows copied, no per-element index list.
            let rows = outer * resolved.count
            guard rows * inner > 0 else { return [Tensor(shape: shape, floats: [])] }
            let out = [Float](unsafeUninitializedCapacity: rows * inner) { buffer, count in
                table.withUnsafeBufferPointer { source in
                    // Non-nil: the output holds rows·inner > 0 elements, so the table (which every row is read
                    // from) is not empty either.
                    var at = buffer.baseAddress!
                    for o in 0..<outer {
                        for i in resolved {
                            at.initialize(from: source.baseAddress! + (o * dim + i) * inner, count: inner)
                            at += inner
                        }
                    }
                }
                count = rows * inner
            }
            return [Tensor(shape: shape, floats: out)]
        }
        var picks = [Int]()
        picks.reserveCapacity(outer * resolved.count * inner)
        for o in 0..<outer {
            for i in resolved {
                let base = (o * dim + i) * inner
                for k in 0..<inner { picks.append(base + k) }
            }
        }
        return [data.picking(picks, shape: shape)]
    }

    /// Concat along `axis` (required from opset 4; 1 before).
    static func concat(opset: Int) -> Kernel { { node, args throws(HedgerowError) in
        let parts = args.compactMap { $0 }
        guard let first = parts.first else { throw ShapeOperators.bad(node, "needs at least one input") }
        let rank = first.shape.count
        let axis = try Operators.axis(try node.int("axis", default: opset < 4 ? 1 : 0), rank: rank, node: node)
        for p in parts {
            guard p.elementType == first.elementType else { throw ShapeOperators.bad(node, "inputs differ in datatype (\(first.elementType), \(p.elementType))") }
            guard p.shape.count == rank, (0..<rank).allSatisfy({ $0 == axis || p.shape[$0] == first.shape[$0] }) else {
                throw ShapeOperators.bad(node, "input shapes \(parts.map(\.shape)) differ outside axis \(axis)")
            }
        }
        // Each part is valid; their sum along the axis may not be (and cannot overflow: each is ≤ maxElements).
        var shape = first.shape
        shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        _ = try TensorLimits.count(shape, node: node)
        let outer = first.shape[..<axis].dimensionProduct, inner = first.shape[(axis + 1)...].dimensionProduct
        // Each part contributes one block of its own axis length · inner per outer index: copied whole.
        let blocks = parts.map { $0.shape[axis] * inner }
        let storage: Tensor.Storage
        switch first.storage {
        case .float32: storage = .float32(concatenate(parts.compactMap { if case .float32(let v) = $0.storage { v } else { nil } }, blocks, outer))
        case .int64: storage = .int64(concatenate(parts.compactMap { if case .int64(let v) = $0.storage { v } else { nil } }, blocks, outer))
        case .int32: storage = .int32(concatenate(parts.compactMap { if case .int32(let v) = $0.storage { v } else { nil } }, blocks, outer))
        case .bool: storage = .bool(concatenate(parts.compactMap { if case .bool(let v) = $0.storage { v } else { nil } }, blocks, outer))
        case .string: storage = .string(concatenate(parts.compactMap { if case .string(let v) = $0.storage { v } else { nil } }, blocks, outer))
        }
        return [Tensor(shape: shape, storage: storage)]
    } }

    /// For each outer index, every part's block in turn (the parts share one type, checked by the caller, so
    /// `parts` has one array per block size).
    private static func concatenate<T>(_ parts: [[T]], _ blocks: [Int], _ outer: Int) -> [T] {
        let total = outer * blocks.reduce(0, +)
        guard total > 0 else { return [] }
        return [T].filled(count: total) { out in
            // Non-nil: total > 0; a part's base address is read only when its block is non-empty.
            var at = out.baseAddress!
            for o in 0..<outer {
                for (part, block) in zip(parts, blocks) where block > 0 {
                    part.withUnsafeBufferPointer { at.initialize(from: $0.baseAddress! + o * block, count: block) }
                    at += block
                }
            }
        }
    }

    /// Split along `axis` into the sizes given (attribute before opset 13, input after), or into equal parts,
    /// one per output (`num_outputs` from opset 18; the last part may be smaller).
    static func split(opset: Int) -> Kernel {
        { node, args throws(HedgerowError) in
            let x = try Operators.input(args, 0, of: node)
            let axis = try Operators.axis(try node.int("axis", default: 0), rank: x.shape.count, node: node)
            let dim = x.shape[axis]
            var sizes: [Int]
            if opset < 13, let given = try node.ints("split") {
                sizes = given
            } else if opset >= 13, args.count > 1, let t = args[1] {
                sizes = try t.integers("split of node '\(node.label)'")
            } else {
                // One part per output: num_outputs is an attribute (data), so it must agree with the node.
                let parts = try node.int("num_outputs", default: node.outputs.count)
                guard parts > 0, parts == node.outputs.count else {
                    throw ShapeOperators.bad(node, "num_outputs \(parts) must be the number of outputs (\(node.outputs.count)) and positive")
                }
                let size = (dim + parts - 1) / parts
                sizes = (0..<parts).map { max(0, min(size, dim - $0 * size)) }
            }
            // Sizes are data: each is checked to lie in 0...dim before they are added, so the sum cannot overflow.
            guard sizes.count == node.outputs.count, sizes.allSatisfy({ $0 >= 0 && $0 <= dim }), sizes.reduce(0, +) == dim else {
                throw ShapeOperators.bad(node, "split sizes \(TensorLimits.describe(sizes)) must be \(node.outputs.count) non-negative sizes adding up to \(dim) along axis \(axis)")
            }
            let inStrides = strides(x.shape)
            var start = 0
            return sizes.map { size in
                var shape = x.shape
                shape[axis] = size
                defer { start += size }
                return x.strided(shape: shape, strides: inStrides, start: start * inStrides[axis])
            }
        }
    }
}
