import CHedgerowKernels
import HedgerowCore

/// A convolution with one group as GEMMs over unfolded input: W [filters, rows] × columns [rows, images·perImage],
/// then an epilogue that moves each filter's line of the product to its image, adding the bias on the way.
///
/// Two ways to unfold. With stride 1 and no dilation (most 3×3 and 5×5 layers) each image is first copied into a
/// zero-bordered plane, and the product is computed over the plane's full width: every row of the column matrix
/// is then one contiguous copy of outH·pitch values (kH·kW·channels copies per image, whatever the image size), and
/// the epilogue drops the kW − 1 columns per line that straddle the border. When one image's product is small enough
/// for the small-product kernel (`BLAS.smallProduct`), those rows are not even copied: the kernel reads them in place
/// from the plane through row pointers (`hedgerow_sgemm_small_rows`), one GEMM per image, its columns rounded up to
/// a multiple of eight (the plane has that much slack past its end), and the image's product is finished while it is
/// still in cache. Otherwise, im2col line by line.
/// Small images go several to one GEMM, whose fixed cost dominates at a few dozen columns (the column buffer is
/// bounded to 2^22 values per GEMM, 16 MB, unless one image alone needs more). With `pool`, the epilogue also
/// max-pools each plane 2×2 with stride 2 (floor), so the full-size output is never written: the max of four
/// products plus the bias is the max of the four biased values, since adding one number keeps the order.
struct ConvolutionUnfold {
    let g: WindowGeometry  // 2-D
    let channels: Int, filters: Int, rows: Int
    /// Stride 1, no dilation, and the padded plane's geometry agrees with the output's.
    let padded: Bool
    /// Columns of the product per output line: the padded plane's width, or outW.
    let pitch: Int
    let planeHeight: Int

    init(_ g: WindowGeometry, channels: Int, filters: Int, rows: Int) {
        (self.g, self.channels, self.filters, self.rows) = (g, channels, filters, rows)
        let planeHeight = g.input[0] + g.padBegin[0] + g.padEnd[0], planeWidth = g.input[1] + g.padBegin[1] + g.padEnd[1]
        padded = g.strides == [1, 1] && g.dilations == [1, 1]
            && g.output[0] <= planeHeight - g.kernel[0] + 1 && g.output[1] <= planeWidth - g.kernel[1] + 1
        pitch = padded ? planeWidth : g.output[1]
        self.planeHeight = planeHeight
    }

    /// The convolution of `batch` images ([batch, channels, inH, inW] in `input`) with `weights` [filters, rows].
    /// Callers guarantee rows, filters, the output plane and the input are non-empty.
    func run(_ input: [Float], _ weights: [Float], bias: [Float]?, batch: Int, pool: Bool = false, node: Node) throws(HedgerowError) -> [Float] {
        let (outH, outW) = (g.output[0], g.output[1])
        guard !pool || (outH >= 2 && outW >= 2) else { throw ShapeOperators.bad(node, "the fused 2×2 max pool does not fit a \(outH)×\(outW) output") }
        // Each product is checked like a tensor before anything is allocated (pads are data).
        let perImage = try TensorLimits.count([outH, pitch], node: node, "unfolded output shape")
        let perGEMM = try TensorLimits.count([rows, perImage], node: node, "im2col buffer shape")
        let chunk = Swift.max(1, Swift.min(batch, (1 << 22) / perGEMM))
        // filters·rows is the weights' count and perImage a tensor's: the product fits an Int.
        let rounded = (perImage + 7) & ~7, inPlace = padded && filters * rounded * rows <= BLAS.smallProduct
        let scratch = Scratch(
            columns: inPlace ? 1 : try TensorLimits.count([rows, chunk * perImage], node: node, "im2col buffer shape"),
            product: try TensorLimits.count([filters, inPlace ? rounded : chunk * perImage], node: node, "product shape"),
            plane: padded ? try TensorLimits.count([channels, planeHeight, pitch], node: node, "padded input shape") + g.kernel[1] - 1 + rounded - perImage : 0,
            perImage: perImage, rounded: rounded, chunk: chunk, pool: pool, inPlace: inPlace)
        let total = batch * filters * (pool ? (outH / 2) * (outW / 2) : outH * outW)
        return [Float].pooled(count: total) { out in
            input.withUnsafeBufferPointer { source in
                weights.withUnsafeBufferPointer { w in
                    // Non-nil: the input, weights and output are non-empty.
                    let (images, filterWeights, output) = (source.baseAddress!, w.baseAddress!, out.baseAddress!)
                    convolve(images, filterWeights, bias: bias, into: output, count: batch, scratch)
                }
            }
        }
    }

    /// Scratch sizes for the GEMMs, checked by `run`: the column matrix (one value when rows are read in place), the
    /// product (one image's, columns rounded up to 8, when in place) and the padded plane (with kW − 1 values past its
    /// end that the last row's straddling columns read, and the rounding's few more when in place).
    struct Scratch {
        let columns: Int, product: Int, plane: Int, perImage: Int
        /// perImage rounded up to a multiple of 8: the columns of an in-place GEMM.
        let rounded: Int
        let chunk: Int
        /// Whether the epilogue pools 2×2 (see the type's comment).
        let pool: Bool
        /// Whether the GEMMs read the plane's rows in place, one per image (see the type's comment).
        let inPlace: Bool
    }

    /// Convolves `count` images a chunk at a time, writing their planes of `output`.
    private func convolve(
        _ images: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, bias: [Float]?,
        into output: UnsafeMutablePointer<Float>, count batch: Int, _ scratch: Scratch
    ) {
        // Scratch from the run's pool (a large fresh buffer costs its page faults on every request), given back at
        // the end. The unfolding and the GEMM write cols and product in full before anything reads them; the
        // plane's border is zeroed here and stays 0 while each image overwrites the interior.
        var colsBuffer = [Float].pooledScratch(count: scratch.columns), productBuffer = [Float].pooledScratch(count: scratch.product)
        var planeBuffer = [Float].pooledZeros(count: scratch.plane)
        defer { for buffer in [colsBuffer, productBuffer, planeBuffer] { BufferPool.current?.give(buffer) } }
        colsBuffer.withUnsafeMutableBufferPointer { cols in
            productBuffer.withUnsafeMutableBufferPointer { product in
                planeBuffer.withUnsafeMutableBufferPointer { plane in
                    // Non-nil: cols and product hold rows·perImage and filters·perImage > 0 values; the plane is read
                    // only when padded, and then holds the padded input.
                    convolve(images, weights, bias: bias, into: output, count: batch, scratch, cols.baseAddress!, product.baseAddress!, plane.baseAddress)
                }
            }
        }
    }

    private func convolve(
        _ images: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, bias: [Float]?, into output: UnsafeMutablePointer<Float>,
        count batch: Int, _ scratch: Scratch, _ cols: UnsafeMutablePointer<Float>, _ product: UnsafeMutablePointer<Float>, _ plane: UnsafeMutablePointer<Float>?
    ) {
        let perImage = scratch.perImage, imageSize = channels * g.input[0] * g.input[1]
        // Row (c, ky, kx) of an unfolded image: the plane of channel c read from (ky, kx) on.
        var rowTable: [UnsafePointer<Float>?] = []
        if scratch.inPlace, let plane {
            let (kH, kW, planeSize) = (g.kernel[0], g.kernel[1], planeHeight * pitch)
            rowTable.reserveCapacity(rows)
            for c in 0..<channels {
                for ky in 0..<kH {
                    for kx in 0..<kW { rowTable.append(UnsafePointer(plane + c * planeSize + ky * pitch + kx)) }
                }
            }
        }
        var start = 0
        while start < batch {
            let count = Swift.min(scratch.chunk, batch - start), width = count * perImage
            if scratch.inPlace, let plane {
                // One image at a time, its product (filters × its columns rounded up to 8) finished while in cache.
                let rounded = scratch.rounded
                rowTable.withUnsafeBufferPointer { table in
                    guard let table = table.baseAddress else { return }
                    for i in 0..<count {
                        fillPlane(images + (start + i) * imageSize, plane)
                        hedgerow_sgemm_small_rows(filters, rounded, rows, weights, rows, table, product, rounded)
                        for m in 0..<filters {
                            finish(product + m * rounded, bias?[m] ?? 0, into: output, plane: (start + i) * filters + m, pool: scratch.pool)
                        }
                    }
                }
                start += count
                continue
            }
            for i in 0..<count {
                let image = images + (start + i) * imageSize
                if padded, let plane {
                    unfoldPadded(image, plane, cols + i * perImage, rowStride: width)
                } else {
                    Self.im2col(image, cols + i * perImage, channels: channels, g, rowStride: width)
                }
            }
            BLAS.sgemm(
                transA: false, transB: false, m: filters, n: width, k: rows, alpha: 1,
                a: weights, lda: rows, b: cols, ldb: width, beta: 0, c: product, ldc: width
            )
            for i in 0..<count {
                for m in 0..<filters {
                    finish(product + m * width + i * perImage, bias?[m] ?? 0, into: output, plane: (start + i) * filters + m, pool: scratch.pool)
                }
            }
            start += count
        }
    }

    /// Moves one filter's lines of the product (`pitch` apart) to output plane `plane`, adding the bias, max-pooled
    /// 2×2 on the way when `pool` (`Pooling.max2x2`, as the MaxPool node would).
    @inline(__always)
    private func finish(_ from: UnsafeMutablePointer<Float>, _ b: Float, into output: UnsafeMutablePointer<Float>, plane: Int, pool: Bool) {
        let (outH, outW) = (g.output[0], g.output[1])
        guard pool else {
            let to = output + plane * outH * outW
            for y in 0..<outH {
                let (source, line) = (from + y &* pitch, to + y &* outW)
                for x in 0..<outW { (line + x).initialize(to: source[x] + b) }
            }
            return
        }
        let (pooledH, pooledW) = (outH / 2, outW / 2)
        let to = output + plane * pooledH * pooledW
        for py in 0..<pooledH {
            let top = from + 2 &* py &* pitch, bottom = top + pitch, line = to + py &* pooledW
            for px in 0..<pooledW { (line + px).initialize(to: Pooling.max2x2(top, bottom, 2 &* px) + b) }
        }
    }

    /// Copies one image into the plane's interior (its border stays 0 from the start) and writes the column matrix:
    /// row (c, ky, kx) is the plane of channel c read from (ky, kx) on, outH·pitch values in one run.
    private func unfoldPadded(_ image: UnsafePointer<Float>, _ plane: UnsafeMutablePointer<Float>, _ cols: UnsafeMutablePointer<Float>, rowStride: Int) {
        let (kH, kW, planeSize, length) = (g.kernel[0], g.kernel[1], planeHeight * pitch, g.output[0] * pitch)
        fillPlane(image, plane)
        var row = 0
        for c in 0..<channels {
            for ky in 0..<kH {
                for kx in 0..<kW {
                    Self.copy(plane + c * planeSize + ky * pitch + kx, to: cols + row * rowStride, count: length)
                    row += 1
                }
            }
        }
    }

    /// Copies one image into the plane's interior; its border stays 0 from the start.
    private func fillPlane(_ image: UnsafePointer<Float>, _ plane: UnsafeMutablePointer<Float>) {
        let (inH, inW, top, left, planeSize) = (g.input[0], g.input[1], g.padBegin[0], g.padBegin[1], planeHeight * pitch)
        for c in 0..<channels {
            for y in 0..<inH {
                Self.copy(image + (c * inH + y) * inW, to: plane + c * planeSize + (y + top) * pitch + left, count: inW)
            }
        }
    }

    /// Copies `count` floats eight at a time. The unfolding's copies are a few dozen floats each, thousands per
    /// batch, where a call to memmove per copy was a sixth of a small CNN's run.
    @inline(__always)
    static func copy(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
        let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(target)
        var i = 0
        while i &+ 8 <= count {
            to.storeBytes(of: from.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self), toByteOffset: i &* 4, as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < count {
            target[i] = source[i]
            i &+= 1
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
