import HedgerowCore

/// ConvTranspose over 1-D and 2-D inputs (groups, strides, dilations, pads, output_padding, output_shape and
/// auto_pad as the ONNX spec defines them): per image and group one GEMM (Wᵀ·X through OpenBLAS) gives every
/// input pixel's contribution to every kernel tap, then col2im adds each into the output position it lands on.
///
/// Attributes are data: each is bounded like a dimension (`TensorLimits.maxElements`) and the output shape is
/// checked before anything is allocated, so no index below can overflow or leave its buffer.
enum ConvTranspose {
    struct Geometry {
        var input: [Int], kernel: [Int], strides: [Int], dilations: [Int], padBegin: [Int], output: [Int]
    }

    static let kernel: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node), w = try Operators.input(args, 1, of: node)
        let input = try x.floats("ConvTranspose input of node '\(node.label)'"), weights = try w.floats("ConvTranspose weights of node '\(node.label)'")
        let spatial = try WindowGeometry.spatial(x.shape, node: node)
        guard w.shape.count == x.shape.count else { throw ShapeOperators.bad(node, "weights of shape \(w.shape) do not match input of shape \(x.shape)") }
        let group = try node.int("group", default: 1)
        let (batch, channels) = (x.shape[0], x.shape[1])
        guard group > 0, group <= TensorLimits.maxElements, channels % group == 0, w.shape[0] == channels else {
            throw ShapeOperators.bad(node, "input has \(channels) channels, weights of shape \(w.shape) with group \(group) do not fit them")
        }
        let filters = w.shape[1] * group, mPerGroup = w.shape[1], cPerGroup = channels / group
        _ = try TensorLimits.count([batch, filters], node: node)
        let g = try geometry(node, input: spatial, kernel: Array(w.shape[2...]))
        var bias: [Float]?
        if args.count > 2, let b = args[2] {
            let values = try b.floats("ConvTranspose bias of node '\(node.label)'")
            guard values.count == filters else { throw ShapeOperators.bad(node, "bias has \(values.count) values for \(filters) filters") }
            bias = values
        }
        // 1-D runs as 2-D with a height of 1.
        let two = spatial.count == 1
        let (inH, inW) = two ? (1, g.input[0]) : (g.input[0], g.input[1])
        let (kH, kW) = two ? (1, g.kernel[0]) : (g.kernel[0], g.kernel[1])
        let (outH, outW) = two ? (1, g.output[0]) : (g.output[0], g.output[1])
        let (sY, sX) = two ? (1, g.strides[0]) : (g.strides[0], g.strides[1])
        let (dY, dX) = two ? (1, g.dilations[0]) : (g.dilations[0], g.dilations[1])
        let (pT, pL) = two ? (0, g.padBegin[0]) : (g.padBegin[0], g.padBegin[1])
        let outShape = [batch, filters] + g.output
        _ = try TensorLimits.count(outShape, node: node)
        let rows = mPerGroup * kH * kW, columns = inH * inW
        _ = try TensorLimits.count([rows, columns], node: node, "col2im buffer shape")
        var out = [Float](repeating: 0, count: batch * filters * outH * outW)
        var cols = [Float](repeating: 0, count: rows * columns)
        if !out.isEmpty && !cols.isEmpty && cPerGroup > 0 {
            input.withUnsafeBufferPointer { image in weights.withUnsafeBufferPointer { weight in cols.withUnsafeMutableBufferPointer { c in
                out.withUnsafeMutableBufferPointer { result in
                    for n in 0..<batch {
                        for gi in 0..<group {
                            // Every buffer is non-empty here (checked above), so the base addresses are non-nil.
                            BLAS.sgemm(
                                transA: true, transB: false, m: rows, n: columns, k: cPerGroup, alpha: 1,
                                a: weight.baseAddress! + gi * cPerGroup * rows, lda: rows,
                                b: image.baseAddress! + (n * channels + gi * cPerGroup) * columns, ldb: columns,
                                beta: 0, c: c.baseAddress!, ldc: columns
                            )
                            let plane = result.baseAddress! + (n * filters + gi * mPerGroup) * outH * outW
                            var row = 0
                            for m in 0..<mPerGroup {
                                for ky in 0..<kH {
                                    for kx in 0..<kW {
                                        let source = c.baseAddress! + row * columns
                                        row += 1
                                        for iy in 0..<inH {
                                            let oy = iy * sY - pT + ky * dY
                                            guard oy >= 0 && oy < outH else { continue }
                                            let line = plane + (m * outH + oy) * outW
                                            for ix in 0..<inW {
                                                let ox = ix * sX - pL + kx * dX
                                                if ox >= 0 && ox < outW { line[ox] += source[iy * inW + ix] }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            } } }
        }
        if let bias {
            let size = outH * outW
            for n in 0..<batch {
                for m in 0..<filters {
                    let base = (n * filters + m) * size
                    for i in 0..<size { out[base + i] += bias[m] }
                }
            }
        }
        return [Tensor(shape: outShape, floats: out)]
    }

    /// Output size and the padding in front, per spatial axis, from the attributes.
    static func geometry(_ node: Node, input: [Int], kernel weightKernel: [Int]) throws(HedgerowError) -> Geometry {
        let rank = input.count, limit = TensorLimits.maxElements
        let kernel = try node.ints("kernel_shape") ?? weightKernel
        guard kernel == weightKernel else {
            throw ShapeOperators.bad(node, "kernel_shape \(TensorLimits.describe(kernel)) does not match the weights' \(weightKernel)")
        }
        let strides = try node.ints("strides") ?? [Int](repeating: 1, count: rank)
        let dilations = try node.ints("dilations") ?? [Int](repeating: 1, count: rank)
        let outputPadding = try node.ints("output_padding") ?? [Int](repeating: 0, count: rank)
        var pads = try node.ints("pads") ?? [Int](repeating: 0, count: 2 * rank)
        let positive = strides + dilations + kernel, nonNegative = outputPadding + pads
        guard strides.count == rank, dilations.count == rank, outputPadding.count == rank, pads.count == 2 * rank,
              positive.allSatisfy({ (1...limit).contains($0) }), nonNegative.allSatisfy({ (0...limit).contains($0) }) else {
            throw ShapeOperators.bad(node, "strides, dilations, kernel_shape (positive), output_padding and pads (≥ 0) must give one value per spatial axis (\(rank)), each at most \(limit)")
        }
        // Each term is below 2^28 and their products below 2^56: no overflow.
        var full: [Int] = []
        for d in 0..<rank {
            let span = (kernel[d] - 1) * dilations[d] + 1
            full.append(strides[d] * (input[d] - 1) + outputPadding[d] + span)
        }
        let autoPad = try node.string("auto_pad", default: "NOTSET")
        var output: [Int]
        if let shape = try node.ints("output_shape") {
            let given = Array(shape.suffix(rank))
            guard given.count == rank, given.allSatisfy({ (0...limit).contains($0) }) else {
                throw ShapeOperators.bad(node, "output_shape \(TensorLimits.describe(shape)) must give the \(rank) spatial sizes")
            }
            output = given
        } else if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
            output = (0..<rank).map { input[$0] * strides[$0] }
        } else {
            guard autoPad == "NOTSET" || autoPad == "VALID" else {
                throw ShapeOperators.bad(node, "auto_pad '\(autoPad.prefix(40))' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
            }
            if autoPad == "VALID" { pads = [Int](repeating: 0, count: 2 * rank) }
            output = (0..<rank).map { full[$0] - pads[$0] - pads[rank + $0] }
        }
        if try node.ints("output_shape") != nil || autoPad.hasPrefix("SAME") {
            for d in 0..<rank {
                let total = max(full[d] - output[d], 0)
                let upper = autoPad == "SAME_UPPER"
                pads[d] = upper ? total / 2 : total - total / 2
            }
        }
        guard output.allSatisfy({ $0 >= 0 }) else { throw ShapeOperators.bad(node, "pads crop the output to \(output)") }
        return Geometry(input: input, kernel: kernel, strides: strides, dilations: dilations, padBegin: Array(pads[..<rank]), output: output)
    }
}
