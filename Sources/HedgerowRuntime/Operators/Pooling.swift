import HedgerowCore

/// MaxPool, AveragePool (1-D and 2-D windows), GlobalAveragePool and GlobalMaxPool.
enum Pooling {
    /// MaxPool; the optional Indices output holds each maximum's flat index in the input (padding not counted;
    /// column-major within a plane with `storage_order: 1`).
    static func maxPool() -> Kernel {
        let cache = WindowGeometryCache()
        return { node, args throws(HedgerowError) in try pool(node, args, max: true, cache) }
    }

    static func averagePool() -> Kernel {
        let cache = WindowGeometryCache()
        return { node, args throws(HedgerowError) in try pool(node, args, max: false, cache) }
    }

    /// The largest of top[x], top[x + 1], bottom[x], bottom[x + 1], compared in that order with `>`: a NaN wins
    /// only in the first place, as in the general pooling loop below.
    @inline(__always)
    static func max2x2(_ top: UnsafePointer<Float>, _ bottom: UnsafePointer<Float>, _ x: Int) -> Float {
        var best = top[x]
        if top[x &+ 1] > best { best = top[x &+ 1] }
        if bottom[x] > best { best = bottom[x] }
        if bottom[x &+ 1] > best { best = bottom[x &+ 1] }
        return best
    }

    /// The most common pooling (2×2, stride 2, inside the image) as straight-line code per output: the same
    /// comparisons in the same order as the general loop, so NaN is treated alike.
    static func maxPool2x2(_ values: [Float], _ out: inout [Float], planes: Int, inH: Int, inW: Int, outH: Int, outW: Int) {
        values.withUnsafeBufferPointer { values in
            out.withUnsafeMutableBufferPointer { out in
                guard let source = values.baseAddress, let target = out.baseAddress else { return }
                for p in 0..<planes {
                    for oy in 0..<outH {
                        let offset: Int = p &* inH &* inW &+ 2 &* oy &* inW
                        let top = source + offset, bottom = top + inW
                        let line = target + (p &* outH &+ oy) &* outW
                        for ox in 0..<outW { line[ox] = max2x2(top, bottom, 2 &* ox) }
                    }
                }
            }
        }
    }

    private static func pool(_ node: Node, _ args: [Tensor?], max isMax: Bool, _ cache: WindowGeometryCache) throws(HedgerowError) -> [Tensor] {
        let x = try Operators.input(args, 0, of: node)
        let values = try x.floats("\(node.opType) input of node '\(node.label)'")
        let spatial = try WindowGeometry.spatial(x.shape, node: node)
        guard let kernel = try node.ints("kernel_shape") else { throw ShapeOperators.bad(node, "kernel_shape is required") }
        let g = try cache.geometry(input: spatial, kernel: kernel) { () throws(HedgerowError) in
            try WindowGeometry(node: node, input: spatial, kernel: kernel, ceilMode: try node.int("ceil_mode", default: 0) != 0).as2D
        }
        let includePad = try node.int("count_include_pad", default: 0) != 0
        let planes = x.shape[0] * x.shape[1]
        let (inH, inW, outH, outW) = (g.input[0], g.input[1], g.output[0], g.output[1])
        let shape = Array(x.shape[..<2]) + (spatial.count == 1 ? [outW] : [outH, outW])
        _ = try TensorLimits.count(shape, node: node)
        var out = [Float].pooledZeros(count: planes * outH * outW)
        let wantsIndices = isMax && node.outputs.count > 1 && !node.outputs[1].isEmpty
        let columnMajor = try node.int("storage_order", default: 0) != 0
        var indices = [Int64](repeating: 0, count: wantsIndices ? out.count : 0)
        // The geometry in locals: array reads in the innermost loop cost more than the pooling itself.
        let (kH, kW) = (g.kernel[0], g.kernel[1]), (sY, sX) = (g.strides[0], g.strides[1])
        let (dY, dX) = (g.dilations[0], g.dilations[1]), (pT, pL) = (g.padBegin[0], g.padBegin[1]), (pB, pR) = (g.padEnd[0], g.padEnd[1])
        let inside = pT == 0 && pL == 0 && pB == 0 && pR == 0 && dY == 1 && dX == 1
            && (outH - 1) * sY + kH <= inH && (outW - 1) * sX + kW <= inW
        if isMax && !wantsIndices && inside {
            // Every window lies inside the image: no bounds to check, no padding to count.
            if kH == 2, kW == 2, sY == 2, sX == 2 {
                maxPool2x2(values, &out, planes: planes, inH: inH, inW: inW, outH: outH, outW: outW)
                return [Tensor(shape: shape, floats: out)]
            }
            values.withUnsafeBufferPointer { values in
                out.withUnsafeMutableBufferPointer { out in
                    for p in 0..<planes {
                        let plane = p &* inH &* inW
                        for oy in 0..<outH {
                            for ox in 0..<outW {
                                let corner = plane &+ oy &* sY &* inW &+ ox &* sX
                                var best = values[corner]
                                for ky in 0..<kH {
                                    let line = corner &+ ky &* inW
                                    for kx in 0..<kW where values[line &+ kx] > best { best = values[line &+ kx] }
                                }
                                out[(p &* outH &+ oy) &* outW &+ ox] = best
                            }
                        }
                    }
                }
            }
            return [Tensor(shape: shape, floats: out)]
        }
        values.withUnsafeBufferPointer { values in
            out.withUnsafeMutableBufferPointer { out in
                indices.withUnsafeMutableBufferPointer { indices in
                    for p in 0..<planes {
                        let plane = p * inH * inW
                        for oy in 0..<outH {
                            for ox in 0..<outW {
                                var best = -Float.infinity, sum: Float = 0, counted = 0, bestAt = 0
                                let baseY = oy * sY - pT, baseX = ox * sX - pL
                                // Only the taps inside the image are visited, so a window far larger than the
                                // image (a model's attributes) costs no more than the image.
                                let padded = taps(baseY, kH, dY, -pT, inH + pB).count * taps(baseX, kW, dX, -pL, inW + pR).count
                                let columns = taps(baseX, kW, dX, 0, inW)
                                for ky in taps(baseY, kH, dY, 0, inH) {
                                    let y = baseY + ky * dY
                                    for kx in columns {
                                        let x = baseX + kx * dX
                                        let v = values[plane + y * inW + x]
                                        if v > best || counted == 0 { best = v; bestAt = columnMajor ? plane + x * inH + y : plane + y * inW + x }
                                        sum += v
                                        counted += 1
                                    }
                                }
                                out[(p * outH + oy) * outW + ox] = isMax ? best : sum / Float(Swift.max(includePad ? padded : counted, 1))
                                if wantsIndices { indices[(p * outH + oy) * outW + ox] = Int64(bestAt) }
                            }
                        }
                    }
                }
            }
        }
        return [Tensor(shape: shape, floats: out)] + (wantsIndices ? [Tensor(shape: shape, int64s: indices)] : [])
    }

    /// The window taps `k` in `0..<size` whose position `base + k·dilation` lies in `low..<high`, in order.
    @inline(__always)
    static func taps(_ base: Int, _ size: Int, _ dilation: Int, _ low: Int, _ high: Int) -> Range<Int> {
        let first = base >= low ? 0 : (low - base + dilation - 1) / dilation
        let end = high > base ? Swift.min(size, (high - base + dilation - 1) / dilation) : 0
        return first < end ? first..<end : 0..<0
    }

    /// The mean of each channel over every spatial position: [N, C, …] → [N, C, 1, …].
    static let globalAveragePool: Kernel = { node, args throws(HedgerowError) in
        try global(node, args) { plane in plane.reduce(0, +) / Float(Swift.max(plane.count, 1)) }
    }

    /// The maximum of each channel over every spatial position (NaN if the plane holds one, as numpy's max).
    static let globalMaxPool: Kernel = { node, args throws(HedgerowError) in
        try global(node, args) { plane in
            plane.reduce(-Float.infinity) { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
        }
    }

    private static func global(_ node: Node, _ args: [Tensor?], _ reduce: (ArraySlice<Float>) -> Float) throws(HedgerowError) -> [Tensor] {
        let x = try Operators.input(args, 0, of: node)
        let values = try x.floats("\(node.opType) input of node '\(node.label)'")
        guard x.shape.count >= 3 else { throw ShapeOperators.bad(node, "input must be [N, C, spatial…], got \(x.shape)") }
        let planes = x.shape[0] * x.shape[1], size = x.shape[2...].dimensionProduct
        let out = (0..<planes).map { p in reduce(values[(p * size)..<((p + 1) * size)]) }
        return [Tensor(shape: Array(x.shape[..<2]) + [Int](repeating: 1, count: x.shape.count - 2), floats: out)]
    }
}
