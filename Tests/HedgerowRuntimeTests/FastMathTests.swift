import Foundation
import CHedgerowKernels
@testable import HedgerowRuntime
import Testing

/// The vectorizable float functions, measured against double precision.
@Suite struct FastMathTests {
    @Test func expIsWithinAFewUlpsOverItsRange() {
        var worst = 0.0
        var x: Float = -87
        while x < 88 {
            let want = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(FastMath.exp(x)) - want) / want)
            x += 0.0137
        }
        #expect(worst < 4e-7, "largest relative error \(worst)")
        #expect(FastMath.exp(0) == 1)
        #expect(FastMath.exp(-.infinity) == 0 && FastMath.exp(-100) == 0)
        #expect(FastMath.exp(.nan).isNaN)
        #expect(FastMath.exp(1000).isFinite)
    }

    @Test func laneSumsMatchThePlainSumsOnEveryLength() {
        for count in [0, 1, 7, 8, 9, 16, 31, 100] {
            let values = (0..<count).map { Float($0) * 0.5 - 3 }
            values.withUnsafeBufferPointer { p in
                let base = p.baseAddress ?? UnsafePointer(bitPattern: 16)!
                let plain = values.reduce(0, +), mean = count == 0 ? 0 : plain / Float(count)
                #expect(abs(FastMath.sum(base, count) - plain) < 1e-3, "\(count)")
                #expect(abs(FastMath.squaredDeviations(base, count, from: mean) - values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }) < 1e-2, "\(count)")
            }
        }
    }
}

/// The element-wise kernels of CHedgerowKernels (eight lanes wide where the CPU has AVX2 and FMA), against double
/// precision and against the definition.
@Suite struct WideKernelsTests {
    @Test func geluErfAndTanhMatchDoublePrecision() {
        let xs: [Float] = stride(from: Float(-9), to: 9, by: 0.0131).map { $0 } + [0, -0.0, .infinity, -.infinity]
        var gelu = [Float](repeating: 0, count: xs.count), erf = gelu, tanh = gelu
        hedgerow_gelu(xs, &gelu, xs.count)
        hedgerow_erf(xs, &erf, xs.count)
        hedgerow_tanh(xs, &tanh, xs.count)
        var worst = 0.0
        for (i, x) in xs.enumerated() where x.isFinite {
            let e = Foundation.erf(Double(x)), g = 0.5 * Double(x) * (1 + Foundation.erf(Double(x) / 2.0.squareRoot())), t = Foundation.tanh(Double(x))
            worst = max(worst, abs(Double(erf[i]) - e) / max(1e-3, abs(e)), abs(Double(gelu[i]) - g) / max(1, abs(g)))
            worst = max(worst, abs(Double(tanh[i]) - t) / max(1e-3, abs(t)))
        }
        #expect(worst < 2e-6, "largest relative error \(worst)")
        #expect(erf[xs.count - 2] == 1 && erf[xs.count - 1] == -1 && tanh[xs.count - 2] == 1 && tanh[xs.count - 1] == -1)
        var tiny = [Float](repeating: 0, count: 2)
        hedgerow_tanh([1e-5, -3e-4], &tiny, 2)
        #expect(tiny == [1e-5, -3e-4])
        var nan = [Float](repeating: 0, count: 1)
        hedgerow_gelu([.nan], &nan, 1)
        #expect(nan[0].isNaN)
    }

    @Test func softmaxRowsMatchTheDefinition() {
        for length in [1, 3, 8, 10, 17, 64] {
            let rows = 3
            var x = (0..<(rows * length)).map { Float(($0 * 37) % 23) * 0.7 - 8 }
            x[length] = -.infinity  // a masked position in row 1
            for logarithm in [0, 1] {
                var y = [Float](repeating: 0, count: x.count)
                hedgerow_softmax_rows(x, &y, rows, length, Int32(logarithm))
                for r in 0..<rows {
                    let row = x[(r * length)..<((r + 1) * length)].map(Double.init)
                    let m = row.max() ?? 0, sum = row.reduce(0) { $0 + Foundation.exp($1 - m) }
                    for (j, v) in row.enumerated() {
                        let want = logarithm == 1 ? v - m - Foundation.log(sum) : Foundation.exp(v - m) / sum
                        let got = Double(y[r * length + j])
                        let close = want.isNaN ? got.isNaN : want.isInfinite ? got == want : Swift.abs(got - want) <= 2e-6 * Swift.max(1, Swift.abs(want))
                        #expect(close, "length \(length) row \(r) [\(j)]: \(got) vs \(want)")
                    }
                }
            }
        }
        var y = [Float](repeating: 0, count: 4)
        hedgerow_softmax_rows([1, .nan, 2, 3], &y, 1, 4, 0)
        #expect(y.allSatisfy { $0.isNaN }, "a row holding NaN is NaN: \(y)")
    }
}
