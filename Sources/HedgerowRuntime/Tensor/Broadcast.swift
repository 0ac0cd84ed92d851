import HedgerowCore

/// Numpy-style (multidirectional) broadcasting, as the ONNX spec defines it for Add, Mul, Where, Expand and
/// friends.
enum Broadcast {
    /// The broadcast shape of two shapes, or an error naming both. The result is a valid shape (`TensorLimits`):
    /// broadcasting two valid shapes can multiply their sizes, and Expand's target is data, so it is checked here,
    /// once, for every caller.
    static func shape(_ a: [Int], _ b: [Int], node: String) throws(HedgerowError) -> [Int] {
        let rank = max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            guard da == db || da == 1 || db == 1 else {
                throw HedgerowError(.badRequest, "node '\(node)': shapes \(a) and \(b) cannot be broadcast together")
            }
            out[i] = da == 1 ? db : da
        }
        _ = try TensorLimits.count(out, what: "node '\(node)': shapes \(a) and \(b)", noun: "broadcast to")
        return out
    }

    /// Element strides of `shape` seen through the broadcast `outShape` (0 on broadcast dimensions). Both shapes
    /// are valid, so the running product stays within `TensorLimits.maxElements`.
    static func strides(of shape: [Int], in outShape: [Int]) -> [Int] {
        let offset = outShape.count - shape.count
        var strides = [Int](repeating: 0, count: outShape.count)
        var running = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i + offset] = shape[i] == 1 ? 0 : running
            running *= shape[i]
        }
        return strides
    }

    /// For each element of `outShape`, the index of the element of a `shape` tensor broadcast onto it.
    static func indices(of shape: [Int], in outShape: [Int]) -> [Int] {
        let n = outShape.dimensionProduct
        if shape.dimensionProduct == n { return Array(0..<n) }
        return DataMovement.offsets(shape: outShape, strides: strides(of: shape, in: outShape))
    }

    /// Applies `op` element by element over broadcast operands. The common cases (equal shapes, a scalar, a
    /// trailing bias row) take a flat loop; the general case walks an index odometer.
    @inline(__always)
    static func binary<T, U>(_ a: [T], _ aShape: [Int], _ b: [T], _ bShape: [Int], node: String, _ op: (T, T) -> U) throws(HedgerowError) -> ([U], [Int]) {
        let outShape = try shape(aShape, bShape, node: node)
        let n = outShape.dimensionProduct
        // Flat loops over raw buffers for the common cases: equal shapes, a scalar, or B repeating as A's trailing
        // block (a bias row).
        var repeatB: Int?
        if a.count == n && b.count == n { repeatB = n }
        else if a.count == n && b.count == 1 { repeatB = 1 }
        else if a.count == n, b.count > 0, aShape == outShape, outShape.count >= bShape.count, Array(outShape.suffix(bShape.count)) == bShape { repeatB = b.count }
        if let m = repeatB {
            let out = [U].filled(count: n) { buffer in
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        if m == 1 {
                            let s = pb[0]
                            for i in 0..<n { buffer.initializeElement(at: i, to: op(pa[i], s)) }
                        } else {
                            var start = 0
                            while start < n {
                                for j in 0..<m { buffer.initializeElement(at: start + j, to: op(pa[start + j], pb[j])) }
                                start += m
                            }
                        }
                    }
                }
            }
            return (out, outShape)
        }
        if a.count == 1 && b.count == n { let s = a[0]; return (b.map { op(s, $0) }, outShape) }
        // The general case, row by row: the walk merges what it can, so [N, C, H, W] × [1, C, 1, 1] runs rows of
        // H·W with B fixed along each. One flat loop per kind of row keeps `op` inlined in each.
        let walk = StridedRows(shape: outShape, strides: [strides(of: aShape, in: outShape), strides(of: bShape, in: outShape)])
        let length = walk.length, (stepA, stepB) = (walk.inner[0], walk.inner[1])
        guard n > 0, !a.isEmpty, !b.isEmpty else { return ([], outShape) }
        let out = [U].filled(count: n) { buffer in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    // Non-nil: both operands hold at least one element (checked above).
                    let (baseA, baseB, baseOut) = (pa.baseAddress!, pb.baseAddress!, buffer.baseAddress!)
                    walk.forEachRow { row, oa, ob in
                        let (ra, rb, ro) = (baseA + oa, baseB + ob, baseOut + row * length)
                        switch (stepA, stepB) {
                        case (1, 1): for i in 0..<length { (ro + i).initialize(to: op(ra[i], rb[i])) }
                        case (1, 0): let s = rb.pointee; for i in 0..<length { (ro + i).initialize(to: op(ra[i], s)) }
                        case (0, 1): let s = ra.pointee; for i in 0..<length { (ro + i).initialize(to: op(s, rb[i])) }
                        default: for i in 0..<length { (ro + i).initialize(to: op(ra[i * stepA], rb[i * stepB])) }
                        }
                    }
                }
            }
        }
        return (out, outShape)
    }
}
