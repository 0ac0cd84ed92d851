import HedgerowCore

/// Conv over 1-D and 2-D inputs with groups, pads, strides and dilations: im2col, then one GEMM per image and
/// group through OpenBLAS. A 1×1 convolution with stride 1 and no padding skips im2col (the image already is
/// the column matrix).
enum Convolution {
    /// A Conv node's kernel, with the node's own geometry cache.
    static func kernel() -> Kernel {
        let cache = WindowGeometryCache()
        return { node, args throws(HedgerowError) in try conv(node, args, cache) }
    }

    static func conv(_ node: Node, _ args: [Tensor?], _ cache: WindowGeometryCache) throws(HedgerowError) -> [Tensor] {
        let x = try Operators.input(args, 0, of: node), w = try Operators.input(args, 1, of: node)
        let input = try x.floats("Conv input of node '\(node.label)'"), weights = try w.floats("Conv weights of node '\(node.label)'")
        let spatial = try WindowGeometry.spatial(x.shape, node: node)
        guard w.shape.count == x.shape.count else { throw ShapeOperators.bad(node, "weights of shape \(w.shape) do not match input of shape \(x.shape)") }
        let group = try node.int("group", default: 1)
        let (batch, channels, filters) = (x.shape[0], x.shape[1], w.shape[0])
        guard group > 0, channels % group == 0, filters % group == 0, w.shape[1] == channels / group else {
            throw ShapeOperators.bad(node, "input has \(channels) channels, weights of shape \(w.shape) with group \(group) do not fit them")
        }
        // The weights define the window: a kernel_shape attribute that disagrees would make the GEMM read past them.
        let kernel = try node.ints("kernel_shape") ?? Array(w.shape[2...])
        guard kernel == Array(w.shape[2...]) else {
            throw ShapeOperators.bad(node, "kernel_shape \(TensorLimits.describe(kernel)) does not match weights of shape \(w.shape)")
        }
        let g = try cache.geometry(input: spatial, kernel: kernel) { () throws(HedgerowError) in try WindowGeometry(node: node, input: spatial, kernel: kernel).as2D }
        var bias: [Float]?
        if args.count > 2, let b = args[2] {
            let values = try b.floats("Conv bias of node '\(node.label)'")
            guard values.count == filters else { throw ShapeOperators.bad(node, "bias has \(values.count) values for \(filters) filters") }
            bias = values
        }
        let (inH, inW, kH, kW) = (g.input[0], g.input[1], g.kernel[0], g.kernel[1])
        let (outH, outW) = (g.output[0], g.output[1])
        let outShape = [batch, filters] + (spatial.count == 1 ? [outW] : [outH, outW])
        _ = try TensorLimits.count(outShape, node: node)
        let cPerGroup = channels / group, mPerGroup = filters / group
        // rows: the weights' elements per filter; columns: the output's per plane. Both ≤ 2^28 as products of the
        // non-zero dims of valid shapes; the column buffer (rows·columns) is checked like any tensor.
        let rows = cPerGroup * kH * kW, columns = outH * outW
        _ = try TensorLimits.count([rows, columns], node: node, "im2col buffer shape")
        let pointwise = kH == 1 && kW == 1 && g.strides == [1, 1] && g.padBegin == [0, 0] && g.padEnd == [0, 0]
        // Every buffer handed to BLAS below is non-empty (its base address is non-nil): the input, the weights
        // (filters·rows), the columns and the output.
        if group > 1, group == channels, filters == channels, kH * kW > 1, columns > 0, !input.isEmpty {
            let unfold = ConvolutionUnfold(g, channels: 1, filters: filters, rows: kH * kW)
            if unfold.padded {
                var out = try DepthwiseConvolution(unfold: unfold).run(input, weights, bias: bias, batch: batch, node: node)
                try FusedActivation.apply(node, &out)
                return [try finished(node, out, shape: outShape)]
            }
        }
        if group == 1, !pointwise, rows > 0, columns > 0, filters > 0, !input.isEmpty {
            let unfold = ConvolutionUnfold(g, channels: channels, filters: filters, rows: rows)
            // A fused 2×2 max pool runs in the GEMM's epilogue, before an activation that keeps the order of values
            // (pooling then activating is then the same as the other way round, on a quarter of the values).
            if node.attributes[fusedMaxPool] != nil, outShape.count == 4, outH >= 2, outW >= 2, FusedActivation.keepsOrder(node) {
                var pooled = try unfold.run(input, weights, bias: bias, batch: batch, pool: true, node: node)
                try FusedActivation.apply(node, &pooled)
                return [Tensor(shape: [batch, filters, outH / 2, outW / 2], floats: pooled)]
            }
            var out = try unfold.run(input, weights, bias: bias, batch: batch, node: node)
            try FusedActivation.apply(node, &out)
            return [try finished(node, out, shape: outShape)]
        }
        var out = [Float].pooledZeros(count: batch * filters * columns)
        var cols = [Float](repeating: 0, count: pointwise ? 0 : rows * columns)
        if !out.isEmpty && rows > 0 && !input.isEmpty { input.withUnsafeBufferPointer { inputBuffer in
            weights.withUnsafeBufferPointer { weightBuffer in
                out.withUnsafeMutableBufferPointer { outBuffer in
                    for n in 0..<batch {
                        for gi in 0..<group {
                            let image = inputBuffer.baseAddress! + (n * channels + gi * cPerGroup) * inH * inW
                            let result = outBuffer.baseAddress! + (n * filters + gi * mPerGroup) * columns
                            let filterWeights = weightBuffer.baseAddress! + gi * mPerGroup * rows
                            func multiply(_ matrix: UnsafePointer<Float>) {
                                BLAS.sgemm(
                                    transA: false, transB: false, m: mPerGroup, n: columns, k: rows, alpha: 1,
                                    a: filterWeights, lda: rows, b: matrix, ldb: columns, beta: 0, c: result, ldc: columns
                                )
                            }
                            if pointwise {
                                multiply(image)
                            } else {
                                cols.withUnsafeMutableBufferPointer { c in
                                    ConvolutionUnfold.im2col(image, c.baseAddress!, channels: cPerGroup, g)
                                    multiply(c.baseAddress!)
                                }
                            }
                        }
                    }
                }
            }
        } }
        if let bias {
            for n in 0..<batch {
                for m in 0..<filters {
                    let base = (n * filters + m) * columns, b = bias[m]
                    for i in 0..<columns { out[base + i] += b }
                }
            }
        }
        try FusedActivation.apply(node, &out)
        return [try finished(node, out, shape: outShape)]
    }

    /// Attribute the conv-maxpool-fusion pass sets (GraphOptimizer): the Conv's output is max-pooled 2×2 with
    /// stride 2 before it is returned. Not an ONNX attribute.
    static let fusedMaxPool = "hedgerow.fused_max_pool_2x2"

    /// The Conv's output as a tensor, pooled when the node carries the fused max pool (its full-size buffer then goes
    /// back to the run's pool).
    static func finished(_ node: Node, _ out: [Float], shape: [Int]) throws(HedgerowError) -> Tensor {
        guard node.attributes[fusedMaxPool] != nil else { return Tensor(shape: shape, floats: out) }
        guard shape.count == 4, shape[2] >= 2, shape[3] >= 2 else {
            throw ShapeOperators.bad(node, "the fused 2×2 max pool does not fit an output of shape \(shape)")
        }
        let pooledShape = [shape[0], shape[1], shape[2] / 2, shape[3] / 2]
        var pooled = [Float].pooledScratch(count: pooledShape.dimensionProduct)
        Pooling.maxPool2x2(out, &pooled, planes: shape[0] * shape[1], inH: shape[2], inW: shape[3], outH: pooledShape[2], outW: pooledShape[3])
        BufferPool.current?.give(out)
        return Tensor(shape: pooledShape, floats: pooled)
    }
}
