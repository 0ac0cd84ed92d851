/// IEEE half precision and bfloat16 to and from float32, by their bits (no reliance on the platform's `Float16`).
/// Used where models declare 16-bit floats: the runtime computes them as float32 (see `ElementType(onnx:)`).
enum HalfFloat {
    /// A half-precision value's bits as float32 (exact: every half is a float).
    static func float(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F), mantissa = UInt32(h & 0x3FF)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa · 2^-24.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        case 31:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
        }
    }

    /// `x` rounded to the nearest half-precision value (ties to even), as float32: what a Cast to float16 keeps.
    static func roundedToHalf(_ x: Float) -> Float {
        guard x.isFinite else { return x }
        let magnitude = Swift.abs(x)
        if magnitude >= 65520 { return x < 0 ? -.infinity : .infinity }
        // Below 2^-14 halves are evenly spaced by 2^-24; above, by 2^(e-10) for x in [2^e, 2^(e+1)).
        let exponent = Swift.max(magnitude.exponent, -14)
        let spacing = Float(sign: .plus, exponent: exponent - 10, significand: 1)
        return (x / spacing).rounded(.toNearestOrEven) * spacing
    }

    /// `x` rounded to the nearest bfloat16 (ties to even), as float32.
    static func roundedToBFloat16(_ x: Float) -> Float {
        guard !x.isNaN else { return x }
        let bits = x.bitPattern
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return Float(bitPattern: rounded & 0xFFFF_0000)
    }
}
