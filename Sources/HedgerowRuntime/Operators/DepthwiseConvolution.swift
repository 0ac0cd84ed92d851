import HedgerowCore

/// A depthwise convolution (one filter per channel: group = channels = filters) with stride 1 and no dilation,
/// computed directly on each channel's zero-bordered plane: the output over the plane's full width is the sum of
/// kH·kW shifted copies of the plane, each scaled by one weight — kH·kW multiply-adds over one contiguous run per
/// channel, where the GEMM route made a column matrix per channel and multiplied it by a single row. MobileNet-style
/// networks (PP-OCR, YOLO heads) are made of these.
struct DepthwiseConvolution {
    let unfold: ConvolutionUnfold  // its plane geometry (pitch, plane height); `padded` must hold

    /// The convolution of `batch` images of `unfold.filters` channels. Callers guarantee `unfold.padded`, a
    /// non-empty input and output.
    func run(_ input: [Float], _ weights: [Float], bias: [Float]?, batch: Int, node: Node) throws(HedgerowError) -> [Float] {
        let g = unfold.g, channels = unfold.filters
        let (inH, inW, kH, kW, outH, outW) = (g.input[0], g.input[1], g.kernel[0], g.kernel[1], g.output[0], g.output[1])
        let (pitch, planeHeight, top, left) = (unfold.pitch, unfold.planeHeight, g.padBegin[0], g.padBegin[1])
        let run = try TensorLimits.count([outH, pitch], node: node, "unfolded output shape")
        // The plane, with kW − 1 values past its end that the last line's straddling columns read.
        var planeBuffer = [Float].pooledZeros(count: try TensorLimits.count([planeHeight, pitch], node: node, "padded input shape") + kW - 1)
        var sumBuffer = [Float].pooledScratch(count: run)
        defer { for buffer in [planeBuffer, sumBuffer] { BufferPool.current?.give(buffer) } }
        let total = batch * channels * outH * outW
        return [Float].pooled(count: total) { out in
            input.withUnsafeBufferPointer { source in
                weights.withUnsafeBufferPointer { w in
                    planeBuffer.withUnsafeMutableBufferPointer { planeStorage in
                        sumBuffer.withUnsafeMutableBufferPointer { sumStorage in
                            // Non-nil: every buffer here is non-empty (the caller's guarantee, and run ≥ outH·outW > 0).
                            let (plane, sum) = (planeStorage.baseAddress!, sumStorage.baseAddress!)
                            for image in 0..<(batch * channels) {
                                let c = image % channels
                                let from = source.baseAddress! + image * inH * inW
                                for y in 0..<inH { (plane + (y + top) * pitch + left).update(from: from + y * inW, count: inW) }
                                sum.update(repeating: bias?[c] ?? 0, count: run)
                                let filter = w.baseAddress! + c * kH * kW
                                for ky in 0..<kH {
                                    for kx in 0..<kW {
                                        let (weight, shifted) = (filter[ky * kW + kx], plane + ky * pitch + kx)
                                        for i in 0..<run { sum[i] += weight * shifted[i] }
                                    }
                                }
                                let to = out.baseAddress! + image * outH * outW
                                for y in 0..<outH { (to + y * outW).update(from: sum + y * pitch, count: outW) }
                            }
                        }
                    }
                }
            }
        }
    }
}
