import CHedgerowKernels
import COpenBLAS

/// The one door to OpenBLAS. Row-major single-precision GEMM: C = alpha·op(A)·op(B) + beta·C.
///
/// The `Int32` conversions cannot trap on input: every size and leading dimension passed here is a dimension, or a
/// product of dimensions, of a valid shape (`TensorLimits`: at most 2^28 elements), below `Int32.max`.
public enum BLAS {
    /// Multiply-adds up to which a GEMM runs in `hedgerow_sgemm_small` instead of OpenBLAS: below it OpenBLAS's
    /// packing of both operands costs more than it saves (the MLPs' batches, the encoder's layers at batch 1, the
    /// CNN's convolutions; measured at 2^18 and 2^20, the CNN's second convolution at batch 32 — 0.9 M — ran
    /// faster here than in OpenBLAS).
    static let smallProduct = 1 << 20

    /// OpenBLAS's threads per GEMM: the runtime's only intra-op parallelism. A worker sets 1 by default
    /// (`--blas-threads`): it runs one batch per inference thread, so under load every core is already busy with a
    /// batch and GEMM threads would only contend with them; more pays on a worker that mostly sees one large batch
    /// at a time. Splitting kernels' own loops across threads was measured and did not pay (Benchmarks/README.md,
    /// runtime, "All threads").
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(clamping: max(1, newValue))) }
    }

    static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // Small products without transposes (and β of 0 or 1) skip OpenBLAS's packing: see `smallProduct`. m·k and n
        // are each at most 2^28, so m·n·k cannot overflow.
        if !transA, !transB, alpha == 1, beta == 0 || beta == 1, m * n * k <= smallProduct,
           hedgerow_sgemm_small(m, n, k, a, lda, b, ldb, c, ldc, beta == 1 ? 1 : 0) != 0 {
            return
        }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc)
        )
    }
}
