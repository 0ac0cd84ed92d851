import HedgerowCore

/// Gemm and MatMul over OpenBLAS: one `cblas_sgemm` per call, so a batch of N rows is one GEMM per layer.
enum LinearAlgebra {
    /// Y = alpha·A'·B' + beta·C (ONNX Gemm, opset 7+; C optional from opset 11 and unidirectionally broadcast).
    static let gemm: Kernel = { node, args throws(HedgerowError) in
        let a = try Operators.input(args, 0, of: node), b = try Operators.input(args, 1, of: node)
        let transA = try node.int("transA", default: 0) != 0, transB = try node.int("transB", default: 0) != 0
        let alpha = try node.float("alpha", default: 1), beta = try node.float("beta", default: 1)
        guard a.shape.count == 2, b.shape.count == 2 else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (Gemm): inputs must be 2-D, got \(a.shape) and \(b.shape)")
        }
        let (m, k) = transA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (kb, n) = transB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard k == kb else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (Gemm): inner dimensions differ: A is \(a.shape), B is \(b.shape) (transA=\(transA), transB=\(transB))")
        }
        // m, n and k are dimensions of valid shapes (≤ 2^28 each); the product's size is checked before allocating.
        let count = try TensorLimits.count([m, n], node: node)
        var out: [Float]
        var accumulate: Float = 0
        if args.count > 2, let c = args[2], beta != 0 {
            let cValues = try c.floats("Gemm input C of node '\(node.label)'")
            guard try Broadcast.shape([m, n], c.shape, node: node.label) == [m, n] else {
                throw HedgerowError(.badRequest, "node '\(node.label)' (Gemm): C of shape \(c.shape) does not broadcast to [\(m), \(n)]")
            }
            // C seen through [m, n]: a bias row in every row (the usual case) or any broadcast, scaled by beta.
            if cValues.count == n && c.shape.last == n {
                out = startingValues(count: count, columns: n, bias: cValues)
            } else {
                out = cValues.strided(shape: [m, n], strides: Broadcast.strides(of: c.shape, in: [m, n]))
            }
            if beta != 1 { out.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] *= beta } } }
            accumulate = 1
        } else {
            out = [Float].pooledZeros(count: count)
        }
        let av = try a.floats("Gemm input A of node '\(node.label)'"), bv = try b.floats("Gemm input B of node '\(node.label)'")
        // With m, n and k positive, A (m·k), B (k·n) and the output (m·n) are non-empty: every base address exists.
        if m > 0, n > 0, k > 0 {
            av.withUnsafeBufferPointer { ap in
                bv.withUnsafeBufferPointer { bp in
                    out.withUnsafeMutableBufferPointer { cp in
                        BLAS.sgemm(
                            transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                            a: ap.baseAddress!, lda: a.shape[1], b: bp.baseAddress!, ldb: b.shape[1],
                            beta: accumulate, c: cp.baseAddress!, ldc: n
                        )
                    }
                }
            }
        }
        try FusedActivation.apply(node, &out)
        return [Tensor(shape: [m, n], floats: out)]
    }

    /// Numpy matmul: 1-D operands are promoted, leading dimensions broadcast. A 2-D right operand (the usual
    /// weight matrix) folds every leading dimension of the left into the GEMM's M, so a batch is one call.
    static let matMul: Kernel = { node, args throws(HedgerowError) in
        var a = try Operators.input(args, 0, of: node), b = try Operators.input(args, 1, of: node)
        guard !a.shape.isEmpty, !b.shape.isEmpty else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (MatMul): operands must have at least one dimension, got \(a.shape) and \(b.shape)")
        }
        let aVector = a.shape.count == 1, bVector = b.shape.count == 1
        if aVector { a = a.reshaped([1] + a.shape) }
        if bVector { b = b.reshaped(b.shape + [1]) }
        let m = a.shape[a.shape.count - 2], k = a.shape[a.shape.count - 1]
        let kb = b.shape[b.shape.count - 2], n = b.shape[b.shape.count - 1]
        guard k == kb else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (MatMul): inner dimensions differ: \(a.shape) × \(b.shape)")
        }
        let av = try a.floats("MatMul input A of node '\(node.label)'"), bv = try b.floats("MatMul input B of node '\(node.label)'")
        // The matmul-bias-fusion pass's bias (GraphOptimizer): every output row starts from it and the product is
        // accumulated onto it.
        var bias: [Float]?
        if node.attributes[fusedBias] != nil {
            let values = try Operators.input(args, 2, of: node).floats("MatMul fused bias of node '\(node.label)'")
            guard values.count == n else { throw ShapeOperators.bad(node, "fused bias has \(values.count) values for \(n) columns") }
            bias = values
        }
        let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
        let batch = bBatch.isEmpty ? aBatch : try Broadcast.shape(aBatch, bBatch, node: node.label)
        var outShape = batch + [m, n]
        let total = try TensorLimits.count(outShape, node: node)
        var out = startingValues(count: total, columns: n, bias: bias)
        let beta: Float = bias == nil ? 0 : 1
        if bBatch.isEmpty {
            let rows = aBatch.dimensionProduct * m  // A's own elements over k: a valid size.
            gemm(av, 0, bv, 0, &out, 0, m: rows, n: n, k: k, beta: beta)
        } else {
            let count = batch.dimensionProduct
            let sa = Broadcast.strides(of: aBatch, in: batch), sb = Broadcast.strides(of: bBatch, in: batch)
            var index = [Int](repeating: 0, count: batch.count)
            for i in 0..<count {
                var ia = 0, ib = 0
                for d in 0..<batch.count { ia += index[d] * sa[d]; ib += index[d] * sb[d] }
                gemm(av, ia * m * k, bv, ib * k * n, &out, i * m * n, m: m, n: n, k: k, beta: beta)
                var d = batch.count - 1
                while d >= 0 { index[d] += 1; if index[d] < batch[d] { break }; index[d] = 0; d -= 1 }
            }
        }
        try FusedActivation.apply(node, &out)
        if aVector { outShape.remove(at: outShape.count - 2) }
        if bVector { outShape.removeLast() }
        return [Tensor(shape: outShape, floats: out)]
    }

    /// Attribute the matmul-bias-fusion pass sets (GraphOptimizer): input 2 is a bias row added to every output
    /// row. Not an ONNX attribute; a model that sets it itself gets what it asks for, or a refusal.
    static let fusedBias = "hedgerow.fused_bias"

    /// The output buffer before the GEMM adds to it: the bias in every row, or zeros.
    private static func startingValues(count: Int, columns: Int, bias: [Float]?) -> [Float] {
        if let bias, columns > 0 {
            return [Float].pooled(count: count) { buffer in
                bias.withUnsafeBufferPointer { row in
                    var at = 0
                    while at < count { _ = UnsafeMutableBufferPointer(rebasing: buffer[at..<(at + columns)]).initialize(from: row); at += columns }
                }
            }
        }
        return [Float].pooledZeros(count: count)
    }

    /// One GEMM at offsets into A, B and C; with m, n and k positive each buffer holds at least the block it reads.
    private static func gemm(_ a: [Float], _ aOffset: Int, _ b: [Float], _ bOffset: Int, _ c: inout [Float], _ cOffset: Int, m: Int, n: Int, k: Int, beta: Float) {
        guard m > 0, n > 0, k > 0 else { return }
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    BLAS.sgemm(
                        transA: false, transB: false, m: m, n: n, k: k, alpha: 1,
                        a: ap.baseAddress! + aOffset, lda: k, b: bp.baseAddress! + bOffset, ldb: n,
                        beta: beta, c: cp.baseAddress! + cOffset, ldc: n
                    )
                }
            }
        }
    }
}
