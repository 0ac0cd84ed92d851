@testable import HedgerowRuntime
import Testing

/// `BLAS.sgemm` against a plain triple loop in double precision, on the shapes that take the small-product kernel
/// (every column count from 1 to 40, so sixteen-, eight- and one-to-seven-column blocks; row counts that do and do
/// not fill four-row groups; leading dimensions wider than the matrices; β = 0 and 1) and on shapes that go to
/// OpenBLAS (transposes, α ≠ 1, past `smallProduct`).
@Suite struct BLASTests {
    struct Case {
        var m, n, k: Int
        var transA = false, transB = false
        var alpha: Float = 1, beta: Float = 0
        /// Extra columns in each operand's rows, so a kernel that assumes packed rows reads the wrong values.
        var pad = 0
    }

    /// Deterministic values in [-1, 1) that are not round numbers.
    static func values(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { Float(((($0 &+ seed) &* 2_654_435_761) & 0xFFFF)) / 32768 - 1 }
    }

    /// The largest |ours − reference| over C, relative to the largest |reference|, and whether the padding past each
    /// row of C was left alone.
    static func run(_ t: Case) -> (error: Double, paddingKept: Bool) {
        let aRows = t.transA ? t.k : t.m, aCols = t.transA ? t.m : t.k
        let bRows = t.transB ? t.n : t.k, bCols = t.transB ? t.k : t.n
        let lda = aCols + t.pad, ldb = bCols + t.pad, ldc = t.n + t.pad
        let a = values(aRows * lda, seed: 1), b = values(bRows * ldb, seed: 2)
        var c = values(t.m * ldc, seed: 3)
        let before = c
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    BLAS.sgemm(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: ap.baseAddress!, lda: lda,
                               b: bp.baseAddress!, ldb: ldb, beta: t.beta, c: cp.baseAddress!, ldc: ldc)
                }
            }
        }
        var worst = 0.0, scale = 1e-6, paddingKept = true
        for i in 0..<t.m {
            for j in 0..<t.n {
                var sum = 0.0
                for p in 0..<t.k {
                    let x = t.transA ? a[p * lda + i] : a[i * lda + p]
                    let y = t.transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(x) * Double(y)
                }
                let expected = Double(t.alpha) * sum + Double(t.beta) * Double(before[i * ldc + j])
                worst = max(worst, abs(Double(c[i * ldc + j]) - expected))
                scale = max(scale, abs(expected))
            }
            for j in t.n..<ldc where c[i * ldc + j] != before[i * ldc + j] { paddingKept = false }
        }
        return (worst / scale, paddingKept)
    }

    @Test func smallProductsMatchTheDefinition() {
        for n in 1...40 {
            for (m, k) in [(1, 1), (1, 64), (3, 7), (4, 16), (5, 33), (9, 64), (32, 10)] {
                for beta: Float in [0, 1] {
                    for pad in [0, 3] {
                        let c = Case(m: m, n: n, k: k, beta: beta, pad: pad)
                        #expect(m * n * k <= BLAS.smallProduct)
                        let (error, kept) = Self.run(c)
                        #expect(error < 1e-5, "\(c)")
                        #expect(kept, "\(c) wrote past its columns")
                    }
                }
            }
        }
    }

    @Test func productsOpenBLASTakesMatchTheDefinition() {
        let cases = [
            Case(m: 7, n: 9, k: 5, transA: true), Case(m: 7, n: 9, k: 5, transB: true), Case(m: 6, n: 17, k: 8, alpha: 0.5),
            Case(m: 6, n: 17, k: 8, beta: 0.25), Case(m: 120, n: 120, k: 80, beta: 1, pad: 2),
        ]
        for c in cases {
            #expect(Self.run(c).error < 1e-5, "\(c)")
        }
        #expect(120 * 120 * 80 > BLAS.smallProduct)
    }
}
