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
            throw ShapeOperators.bad(node, "input has \(channels) channels, weights \(w.shape) with group \(group) expect \(w.shape[1] * group)")
        }
        let kernel = try node.ints("kernel_shape") ?? Array(w.shape[2...])
        let g = try WindowGeometry(node: node, input: spatial, kernel: kernel).as2D
        var bias: [Float]?
        if args.count > 2, let b = args[2] {
            bias = try b.floats("Conv bias of node '\(node.label)'")
            guard bias!.count == filters else { throw ShapeOperators.bad(node, "bias has \(bias!.count) values for \(filters) filters") }
        }
        let (inH, inW, kH, kW) = (g.input[0], g.input[1], g.kernel[0], g.kernel[1])
        let (outH, outW) = (g.output[0], g.output[1])
        let cPerGroup = channels / group, mPerGroup = filters / group
        let rows = cPerGroup * kH * kW, columns = outH * outW
        let pointwise = kH == 1 && kW == 1 && g.strides == [1, 1] && g.padBegin == [0, 0] && g.padEnd == [0, 0]
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
        return [Tensor(shape: [batch, filters] + (spatial.count == 1 ? [outW] : [outH, outW]), floats: out)]
    }

    /// Unfolds one image's channels into a [channels·kH·kW, outH·outW] matrix; padding reads as 0.
    static func im2col(_ image: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, channels: Int, _ g: WindowGeometry) {
        let (inH, inW, kH, kW, outH, outW) = (g.input[0], g.input[1], g.kernel[0], g.kernel[1], g.output[0], g.output[1])
        let (sY, sX, dY, dX, pT, pL) = (g.strides[0], g.strides[1], g.dilations[0], g.dilations[1], g.padBegin[0], g.padBegin[1])
        var row = 0
        for c in 0..<channels {
            for ky in 0..<kH {
                for kx in 0..<kW {
                    let destination = cols + row * outH * outW
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
                        if first > 0 { line.update(repeating: 0, count: first) }
                        if sX == 1 {
                            (line + first).update(from: source + first, count: last - first)
                        } else {
                            for ox in first..<last { line[ox] = source[ox * sX] }
                        }
                        if last < outW { (line + last).update(repeating: 0, count: outW - last) }
                    }
                    row += 1
                }
            }
        }
    }
}
