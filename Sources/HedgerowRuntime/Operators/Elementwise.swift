import CHedgerowKernels
import Foundation
import HedgerowCore

/// Element-wise operators. Binary ones broadcast numpy-style; arithmetic works on float32, int64 and int32,
/// comparisons answer bool.
enum Elementwise {
    static func add(opset: Int) -> Kernel { arithmetic("Add", opset: opset, float: .add, int: { a, b in a &+ b }) }
    static func sub(opset: Int) -> Kernel { arithmetic("Sub", opset: opset, float: .sub, int: { a, b in a &- b }) }
    static func mul(opset: Int) -> Kernel { arithmetic("Mul", opset: opset, float: .mul, int: { a, b in a &* b }) }
    /// Integer division truncates toward zero, as C and the ONNX reference do; dividing by zero is a 400.
    static func div(opset: Int) -> Kernel {
        arithmetic("Div", opset: opset, float: .div, int: { a, b in b == 0 ? 0 : a.dividedReportingOverflow(by: b).partialValue }, checkDivisor: true)
    }

    /// Before opset 7, B broadcasts onto A only with `broadcast: 1`, aligned at `axis` (default: trailing):
    /// reshaped here so that numpy rules give the same result.
    static func legacyAligned(_ b: Tensor, to a: Tensor, node: Node, opset: Int) throws(HedgerowError) -> Tensor {
        guard opset < 7, try node.int("broadcast", default: 0) != 0, b.shape != a.shape else { return b }
        let axis = try node.int("axis", default: a.shape.count - b.shape.count)
        let start = axis < 0 ? axis + a.shape.count : axis
        guard start >= 0, start + b.shape.count <= a.shape.count else {
            throw ShapeOperators.bad(node, "B of shape \(b.shape) cannot be aligned at axis \(axis) of A of shape \(a.shape)")
        }
        return b.reshaped(b.shape + [Int](repeating: 1, count: a.shape.count - start - b.shape.count))
    }

    static func arithmetic(
        _ name: String, opset: Int, float: FloatArithmetic, int: @escaping @Sendable (Int64, Int64) -> Int64,
        checkDivisor: Bool = false
    ) -> Kernel {
        { node, args throws(HedgerowError) in
            let a = try Operators.input(args, 0, of: node)
            let b = try legacyAligned(try Operators.input(args, 1, of: node), to: a, node: node, opset: opset)
            switch (a.storage, b.storage) {
            case (.float32(let x), .float32(let y)):
                let (out, shape) = try float.apply(x, a.shape, y, b.shape, node: node.label)
                return [Tensor(shape: shape, floats: out)]
            case (.int64(let x), .int64(let y)):
                if checkDivisor && y.contains(0) { throw divisionByZero(node) }
                let (out, shape) = try Broadcast.binary(x, a.shape, y, b.shape, node: node.label, int)
                return [Tensor(shape: shape, int64s: out)]
            case (.int32(let x), .int32(let y)):
                if checkDivisor && y.contains(0) { throw divisionByZero(node) }
                let (out, shape) = try Broadcast.binary(x, a.shape, y, b.shape, node: node.label) { Int32(truncatingIfNeeded: int(Int64($0), Int64($1))) }
                return [Tensor(shape: shape, int32s: out)]
            default:
                throw HedgerowError(.badRequest, "node '\(node.label)' (\(name)): operands must be float32, int64 or int32 of one type, got \(a.elementType) and \(b.elementType)")
            }
        }
    }

    private static func divisionByZero(_ node: Node) -> HedgerowError {
        HedgerowError(.badRequest, "node '\(node.label)' (Div): integer division by zero")
    }

    /// Pow: the result has the base's type; the exponent may be of another numeric type (opset 12+).
    static func pow(opset: Int) -> Kernel { { node, args throws(HedgerowError) in
        let a = try Operators.input(args, 0, of: node)
        let b = try legacyAligned(try Operators.input(args, 1, of: node), to: a, node: node, opset: opset)
        let exponent = try Cast.convert(b, to: .float32, node: node).floats("")
        switch a.storage {
        case .float32(let x):
            let (out, shape) = try Broadcast.binary(x, a.shape, exponent, b.shape, node: node.label) { Foundation.powf($0, $1) }
            return [Tensor(shape: shape, floats: out)]
        case .int64, .int32:
            let base = try Cast.convert(a, to: .float32, node: node).floats("")
            let (out, shape) = try Broadcast.binary(base, a.shape, exponent, b.shape, node: node.label) { Foundation.powf($0, $1) }
            return [try Cast.convert(Tensor(shape: shape, floats: out), to: a.elementType, node: node)]
        case .bool, .string:
            throw HedgerowError(.badRequest, "node '\(node.label)' (Pow): base must be numeric, got \(a.elementType)")
        }
    } }

    static let equal = comparison("Equal", float: ==, int: ==, bool: ==)
    static let greater = comparison("Greater", float: { $0 > $1 }, int: { $0 > $1 }, bool: nil)
    static let less = comparison("Less", float: { $0 < $1 }, int: { $0 < $1 }, bool: nil)

    static func comparison(
        _ name: String, float: @escaping @Sendable (Float, Float) -> Bool, int: @escaping @Sendable (Int64, Int64) -> Bool,
        bool: (@Sendable (Bool, Bool) -> Bool)?
    ) -> Kernel {
        { node, args throws(HedgerowError) in
            let a = try Operators.input(args, 0, of: node), b = try Operators.input(args, 1, of: node)
            let (out, shape): ([Bool], [Int])
            switch (a.storage, b.storage) {
            case (.float32(let x), .float32(let y)): (out, shape) = try Broadcast.binary(x, a.shape, y, b.shape, node: node.label, float)
            case (.int64(let x), .int64(let y)): (out, shape) = try Broadcast.binary(x, a.shape, y, b.shape, node: node.label, int)
            case (.int32(let x), .int32(let y)):
                (out, shape) = try Broadcast.binary(x, a.shape, y, b.shape, node: node.label) { int(Int64($0), Int64($1)) }
            case (.bool(let x), .bool(let y)) where bool != nil: (out, shape) = try Broadcast.binary(x, a.shape, y, b.shape, node: node.label, bool!)
            default:
                throw HedgerowError(.badRequest, "node '\(node.label)' (\(name)): cannot compare \(a.elementType) with \(b.elementType)")
            }
            return [Tensor(shape: shape, bools: out)]
        }
    }

    /// Where(condition, X, Y): X where the condition holds, else Y; all three broadcast together.
    static let `where`: Kernel = { node, args throws(HedgerowError) in
        let c = try Operators.input(args, 0, of: node), x = try Operators.input(args, 1, of: node), y = try Operators.input(args, 2, of: node)
        let condition = try c.bools("Where condition of node '\(node.label)'")
        guard x.elementType == y.elementType else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (Where): X and Y differ in datatype (\(x.elementType), \(y.elementType))")
        }
        let shape = try Broadcast.shape(try Broadcast.shape(c.shape, x.shape, node: node.label), y.shape, node: node.label)
        let ci = Broadcast.indices(of: c.shape, in: shape), xi = Broadcast.indices(of: x.shape, in: shape), yi = Broadcast.indices(of: y.shape, in: shape)
        // Element i of [X; Y] joined: X's own index, or Y's shifted past X. `joined` is non-nil: X and Y were
        // checked above to hold one element type.
        let picks = (0..<ci.count).map { condition[ci[$0]] ? xi[$0] : x.count + yi[$0] }
        guard let both = Tensor.Storage.joined([x.storage, y.storage]) else { throw ShapeOperators.bad(node, "X and Y differ in datatype") }
        return [Tensor(shape: shape, storage: both.picking(picks))]
    }

    // Unary float operators.
    // Each kernel hands its function to the inlined `mapFloats` as a literal, so the loop is specialized for it
    // (a stored closure would cost an indirect call per element and forbid vectorizing).
    static let relu: Kernel = { node, args throws(HedgerowError) in try mapFloats(node, args, "Relu") { $0 > 0 ? $0 : ($0.isNaN ? $0 : 0) } }
    static let sigmoid: Kernel = { node, args throws(HedgerowError) in
        // e^-|x| never overflows; FastMath.exp keeps the loop vectorized.
        try mapFloats(node, args, "Sigmoid") { x in
            let e = FastMath.exp(-Swift.abs(x))
            return x >= 0 ? 1 / (1 + e) : e / (1 + e)
        }
    }
    static let tanh: Kernel = { node, args throws(HedgerowError) in try mapFloatsWide(node, args, "Tanh", hedgerow_tanh) }
    static let exp: Kernel = { node, args throws(HedgerowError) in try mapFloats(node, args, "Exp") { Foundation.expf($0) } }
    static let log: Kernel = { node, args throws(HedgerowError) in try mapFloats(node, args, "Log") { Foundation.logf($0) } }
    static let sqrt: Kernel = { node, args throws(HedgerowError) in try mapFloats(node, args, "Sqrt") { $0.squareRoot() } }
    static let erf: Kernel = { node, args throws(HedgerowError) in try mapFloatsWide(node, args, "Erf", hedgerow_erf) }
    static let reciprocal: Kernel = { node, args throws(HedgerowError) in try mapFloats(node, args, "Reciprocal") { 1 / $0 } }

    /// max(0, min(1, αx + β)): MobileNetV3's cheap sigmoid (α 0.2, β 0.5 by default).
    static let hardSigmoid: Kernel = { node, args throws(HedgerowError) in
        let alpha = try node.float("alpha", default: 0.2), beta = try node.float("beta", default: 0.5)
        return try mapFloats(node, args, "HardSigmoid") { x in x.isNaN ? x : Swift.max(0, Swift.min(1, alpha * x + beta)) }
    }

    /// x · HardSigmoid(x) with α = 1/6, β = 0.5.
    static let hardSwish: Kernel = { node, args throws(HedgerowError) in
        try mapFloats(node, args, "HardSwish") { x in x * Swift.max(0, Swift.min(1, x / 6 + 0.5)) }
    }

    static let leakyRelu: Kernel = { node, args throws(HedgerowError) in
        let alpha = try node.float("alpha", default: 0.01)
        return try mapFloats(node, args, "LeakyRelu") { $0 >= 0 ? $0 : alpha * $0 }
    }

    /// Gelu (opset 20): exact with erf, or the tanh approximation when `approximate: "tanh"`.
    static let gelu: Kernel = { node, args throws(HedgerowError) in
        switch try node.string("approximate", default: "none") {
        case "none": return try mapFloatsWide(node, args, "Gelu", hedgerow_gelu)
        case "tanh":
            let c = Float((2 / Double.pi).squareRoot())
            return try mapFloats(node, args, "Gelu") { x in 0.5 * x * (1 + Foundation.tanhf(c * (x + 0.044715 * x * x * x))) }
        case let other: throw HedgerowError(.loadFailed, "node '\(node.label)' (Gelu): approximate must be 'none' or 'tanh', got '\(other)'")
        }
    }

    /// A kernel of CHedgerowKernels (built for AVX2 too) applied to the node's float32 input.
    static func mapFloatsWide(
        _ node: Node, _ args: [Tensor?], _ name: String, _ kernel: (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void
    ) throws(HedgerowError) -> [Tensor] {
        let x = try Operators.input(args, 0, of: node)
        let values = try x.floats("\(name) input of node '\(node.label)'")
        let out = [Float].pooled(count: values.count) { buffer in
            values.withUnsafeBufferPointer { kernel($0.baseAddress, buffer.baseAddress, values.count) }
        }
        return [Tensor(shape: x.shape, floats: out)]
    }

    /// `f` applied to every element of the node's float32 input.
    @inline(__always)
    static func mapFloats(_ node: Node, _ args: [Tensor?], _ name: String, _ f: (Float) -> Float) throws(HedgerowError) -> [Tensor] {
        let x = try Operators.input(args, 0, of: node)
        let values = try x.floats("\(name) input of node '\(node.label)'")
        let out = [Float].pooled(count: values.count) { buffer in
            values.withUnsafeBufferPointer { source in
                for i in 0..<source.count { buffer[i] = f(source[i]) }
            }
        }
        return [Tensor(shape: x.shape, floats: out)]
    }

    static let neg = signed("Neg", float: { -$0 }, int: { 0 &- $0 })
    static let abs = signed("Abs", float: { Swift.abs($0) }, int: { $0 < 0 ? 0 &- $0 : $0 })

    static func signed(_ name: String, float: @escaping @Sendable (Float) -> Float, int: @escaping @Sendable (Int64) -> Int64) -> Kernel {
        { node, args throws(HedgerowError) in
            let x = try Operators.input(args, 0, of: node)
            switch x.storage {
            case .float32(let v): return [Tensor(shape: x.shape, floats: v.map(float))]
            case .int64(let v): return [Tensor(shape: x.shape, int64s: v.map(int))]
            case .int32(let v): return [Tensor(shape: x.shape, int32s: v.map { Int32(truncatingIfNeeded: int(Int64($0))) })]
            case .bool, .string: throw HedgerowError(.badRequest, "node '\(node.label)' (\(name)): input must be numeric, got \(x.elementType)")
            }
        }
    }

    /// Clip: bounds are attributes before opset 11, optional scalar inputs from 11 on.
    static func clip(opset: Int) -> Kernel {
        { node, args throws(HedgerowError) in
            let x = try Operators.input(args, 0, of: node)
            func bound(_ index: Int, _ attribute: String, _ fallback: Float) throws(HedgerowError) -> Tensor? {
                if opset < 11 { return Tensor(shape: [], floats: [try node.float(attribute, default: fallback)]) }
                guard index < args.count, let t = args[index] else { return nil }
                guard t.count == 1 else { throw HedgerowError(.badRequest, "node '\(node.label)' (Clip): \(attribute) must be a scalar, got shape \(t.shape)") }
                return try Cast.convert(t, to: x.elementType, node: node)
            }
            let low = try bound(1, "min", -.infinity), high = try bound(2, "max", .infinity)
            switch x.storage {
            case .float32(let v):
                let lo = try low?.floats("")[0] ?? -.infinity, hi = try high?.floats("")[0] ?? .infinity
                return [Tensor(shape: x.shape, floats: v.map { Swift.min(Swift.max($0, lo), hi) })]
            case .int64(let v):
                let lo = try low?.int64s("")[0] ?? .min, hi = try high?.int64s("")[0] ?? .max
                return [Tensor(shape: x.shape, int64s: v.map { Swift.min(Swift.max($0, lo), hi) })]
            case .int32(let v):
                // The bounds were converted to int32 by `bound`, so the values fit (clamping only documents it).
                let lo = try low.map { t throws(HedgerowError) in Int32(clamping: try t.integers("")[0]) } ?? .min
                let hi = try high.map { t throws(HedgerowError) in Int32(clamping: try t.integers("")[0]) } ?? .max
                return [Tensor(shape: x.shape, int32s: v.map { Swift.min(Swift.max($0, lo), hi) })]
            case .bool, .string:
                throw HedgerowError(.badRequest, "node '\(node.label)' (Clip): input must be numeric, got \(x.elementType)")
            }
        }
    }
}
