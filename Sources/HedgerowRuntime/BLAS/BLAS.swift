import COpenBLAS

/// The one door to OpenBLAS. Row-major single-precision GEMM: C = alpha·op(A)·op(B) + beta·C.
///
/// The `Int32` conversions cannot trap on input: every size and leading dimension passed here is a dimension, or a
/// product of dimensions, of a valid shape (`TensorLimits`: at most 2^28 elements), below `Int32.max`.
enum BLAS {
    static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc)
        )
    }
}
