import Foundation
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

    @Test func erfIsWithinItsStatedError() {
        var worst = 0.0
        var x: Float = -6
        while x < 6 {
            let want = Foundation.erf(Double(x))
            if abs(want) > 1e-3 { worst = max(worst, abs(Double(FastMath.erf(x)) - want) / abs(want)) }
            x += 0.0071
        }
        #expect(worst < 5e-7, "largest relative error \(worst)")
    }

    @Test func laneSumsMatchThePlainSumsOnEveryLength() {
        for count in [0, 1, 7, 8, 9, 16, 31, 100] {
            let values = (0..<count).map { Float($0) * 0.5 - 3 }
            values.withUnsafeBufferPointer { p in
                let base = p.baseAddress ?? UnsafePointer(bitPattern: 16)!
                let plain = values.reduce(0, +), mean = count == 0 ? 0 : plain / Float(count)
                #expect(abs(FastMath.sum(base, count) - plain) < 1e-3, "\(count)")
                #expect(abs(FastMath.squaredDeviations(base, count, from: mean) - values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }) < 1e-2, "\(count)")
                if count > 0 { #expect(FastMath.maximum(base, count) == values.max(), "\(count)") }
            }
        }
        for position in [0, 5, 8, 12] {
            var values = [Float](repeating: 1, count: 13)
            values[position] = .nan
            #expect(values.withUnsafeBufferPointer { FastMath.maximum($0.baseAddress!, 13) }.isNaN, "NaN at \(position)")
        }
    }
}
