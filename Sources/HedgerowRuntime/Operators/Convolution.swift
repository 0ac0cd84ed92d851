import HedgerowCore

/// Conv over 1-D and 2-D inputs with groups, pads, strides and dilations: im2col, then one GEMM per image and
/// group through OpenBLAS. A 1×1 convolution with stride 1 and no padding skips im2col (the image already is
/// the column matrix).
enum Convolution {
    static let conv: Kernel = { node, args throws(HedgerowError) in
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
        let g = try WindowGeometry(node: node, input: spatial, kernel: kernel).as2D
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
        // Small images (digits, feature maps deep in a net): one GEMM over the whole batch's columns beats a GEMM per
        // image, whose fixed cost dominates at a few dozen columns. Bounded to 16 MB of columns.
        // Every buffer handed to BLAS below is non-empty (its base address is non-nil): the input, the weights
        // (filters·rows), the columns and the output.
        if group == 1, !pointwise, batch > 1, rows * batch * columns <= 1 << 22, rows > 0, columns > 0, filters > 0, !input.isEmpty {
            var out = batchedConv(input, weights, bias: bias, batch: batch, channels: channels, filters: filters, rows: rows, columns: columns, g)
            try applyFusedActivation(node, &out)
            return [Tensor(shape: outShape, floats: out)]
        }
        var out = [Float](repeating: 0, count: batch * filters * columns)
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
                                    im2col(image, c.baseAddress!, channels: cPerGroup, g)
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
        try applyFusedActivation(node, &out)
        return [Tensor(shape: outShape, floats: out)]
    }

    /// Attributes the conv-activation-fusion pass sets (GraphOptimizer): the activation to apply to the output and
    /// its constants. Not ONNX attributes; a model that sets them itself gets what it asks for, or a refusal.
    static let fusedActivation = "hedgerow.fused_activation", fusedParameters = "hedgerow.fused_parameters"

    static func applyFusedActivation(_ node: Node, _ out: inout [Float]) throws(HedgerowError) {
        guard case .string(let name)? = node.attributes[fusedActivation] else { return }
        let p = try node.floats(fusedParameters) ?? []
        func need(_ n: Int) throws(HedgerowError) { if p.count != n { throw ShapeOperators.bad(node, "fused \(name) needs \(n) parameters") } }
        switch name {
        case "Relu": for i in out.indices where !(out[i] > 0) && !out[i].isNaN { out[i] = 0 }
        case "LeakyRelu":
            try need(1)
            for i in out.indices where out[i] < 0 { out[i] *= p[0] }
        case "Clip":
            try need(2)
            for i in out.indices { out[i] = Swift.min(Swift.max(out[i], p[0]), p[1]) }
        case "HardSigmoid":
            try need(2)
            for i in out.indices where !out[i].isNaN { out[i] = Swift.max(0, Swift.min(1, p[0] * out[i] + p[1])) }
        case "HardSwish":
            for i in out.indices { out[i] *= Swift.max(0, Swift.min(1, out[i] / 6 + 0.5)) }
        default:
            throw ShapeOperators.bad(node, "unknown fused activation '\(name.prefix(40))'")
        }
    }

    /// Every image's columns side by side ([rows, batch·columns]), one GEMM, then each filter's row of the product
    /// scattered to its image with the bias added on the way.
    private static func batchedConv(
        _ input: [Float], _ weights: [Float], bias: [Float]?, batch: Int, channels: Int, filters: Int, rows: Int, columns: Int, _ g: WindowGeometry
    ) -> [Float] {
        let width = batch * columns
        let imageSize = channels * g.input[0] * g.input[1]
        var cols = [Float](repeating: 0, count: rows * width)
        var product = [Float](repeating: 0, count: filters * width)
        input.withUnsafeBufferPointer { image in
            cols.withUnsafeMutableBufferPointer { c in
                for n in 0..<batch {
                    im2col(image.baseAddress! + n * imageSize, c.baseAddress! + n * columns, channels: channels, g, rowStride: width)
                }
                weights.withUnsafeBufferPointer { w in
                    product.withUnsafeMutableBufferPointer { p in
                        BLAS.sgemm(
                            transA: false, transB: false, m: filters, n: width, k: rows, alpha: 1,
                            a: w.baseAddress!, lda: rows, b: c.baseAddress!, ldb: width, beta: 0, c: p.baseAddress!, ldc: width
                        )
                    }
                }
            }
        }
        return [Float](unsafeUninitializedCapacity: batch * filters * columns) { out, count in
            product.withUnsafeBufferPointer { p in
                for n in 0..<batch {
                    for m in 0..<filters {
                        let b = bias?[m] ?? 0
                        let source = m * width + n * columns, destination = (n * filters + m) * columns
                        for i in 0..<columns { out[destination + i] = p[source + i] + b }
                    }
                }
            }
            count = batch * filters * columns
        }
    }

    /// Unfolds one image's channels into a [channels·kH·kW, outH·outW] matrix (rows `rowStride` apart); padding
    /// reads as 0.
    static func im2col(_ image: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, channels: Int, _ g: WindowGeometry, rowStride: Int? = nil) {
        let (inH, inW, kH, kW, outH, outW) = (g.input[0], g.input[1], g.kernel[0], g.kernel[1], g.output[0], g.output[1])
        let (sY, sX, dY, dX, pT, pL) = (g.strides[0], g.strides[1], g.dilations[0], g.dilations[1], g.padBegin[0], g.padBegin[1])
        let rowStride = rowStride ?? outH * outW
        var row = 0
        for c in 0..<channels {
            for ky in 0..<kH {
                for kx in 0..<kW {
                    let destination = cols + row * rowStride
                    let shift = kx * dX - pL
                    // Output columns whose input column is inside the image: x = ox·sX + shift in [0, inW).
                    let first = shift >= 0 ? 0 : Swift.min(outW, (-shift + sX - 1) / sX)
                    let last = Swift.max(first, Swift.min(outW, inW - shift > 0 ? (inW - shift + sX - 1) / sX : 0))
                    for oy in 0..<outH {
                        let y = oy * sY - pT + ky * dY
                        let line = destination + oy * outW
                        guard y >= 0 && y < inH else {
                            line.update(repeating: 0, count: outW)
                            continue
                        }
                        let source = image + (c * inH + y) * inW + shift
                        for ox in 0..<first { line[ox] = 0 }
                        if sX == 1 && last - first >= 32 {
                            (line + first).update(from: source + first, count: last - first)
                        } else {
                            for ox in first..<last { line[ox] = source[ox &* sX] }
                        }
                        for ox in last..<outW { line[ox] = 0 }
                    }
                    row += 1
                }
            }
        }
    }
}
