import HedgerowCore

/// Float functions written so the compiler can vectorize the loops that call them (libm's are opaque calls).
enum FastMath {
    /// e^x for softmax-style arguments (x ≤ 0 after the maximum is subtracted), without a libm call so loops over
    /// it vectorize: x = n·ln 2 + r with |r| ≤ ln 2 / 2, Cephes' degree-6 polynomial for e^r, and 2^n made from
    /// exponent bits. Below -87.3 the result is 0 (float32's subnormals, which no sum of exponentials can tell
    /// from 0, are not produced), so a masked −∞ weighs exactly nothing; above 88.3 it is e^88.3. NaN gives NaN.
    @inline(__always)
    static func exp(_ value: Float) -> Float {
        let x = Swift.min(Swift.max(value, -87.3), 88.3)
        let shifter: Float = 12_582_912  // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits
        let t = x * 1.442695040888963 + shifter
        let n = t - shifter
        let r = x - n * 0.693359375 + n * 2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let er = p * r * r + r + 1
        // t's bit pattern is 0x4B40_0000 + n (|n| ≤ 127), so the exponent field of 2^n is n + 127.
        let scale = Float(bitPattern: (t.bitPattern &+ (127 &- 0x4B40_0000)) &<< 23)
        return value.isNaN ? value : (value < -87.3 ? 0 : er * scale)
    }

    /// Σ p[0..<count], eight lanes at a time (a plain loop over floats is not reassociated, so never vectorized).
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= count {
            lanes += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var total = lanes.sum()
        while i < count { total += p[i]; i += 1 }
        return total
    }

    /// Σ (p[i] − mean)², eight lanes at a time.
    @inline(__always)
    static func squaredDeviations(_ p: UnsafePointer<Float>, _ count: Int, from mean: Float) -> Float {
        var lanes = SIMD8<Float>()
        let m = SIMD8<Float>(repeating: mean)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= count {
            let d = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - m
            lanes += d * d
            i += 8
        }
        var total = lanes.sum()
        while i < count { let d = p[i] - mean; total += d * d; i += 1 }
        return total
    }
}

/// The four float arithmetic operators, as a value: `apply` switches once per tensor, and each case hands a literal
/// operator to the inlined broadcast loop, which is then specialized (and vectorized) for it.
enum FloatArithmetic: Sendable {
    case add, sub, mul, div

    func apply(_ a: [Float], _ aShape: [Int], _ b: [Float], _ bShape: [Int], node: String) throws(HedgerowError) -> ([Float], [Int]) {
        switch self {
        case .add: try Broadcast.binary(a, aShape, b, bShape, node: node, +)
        case .sub: try Broadcast.binary(a, aShape, b, bShape, node: node, -)
        case .mul: try Broadcast.binary(a, aShape, b, bShape, node: node, *)
        case .div: try Broadcast.binary(a, aShape, b, bShape, node: node, /)
        }
    }
}
