import Foundation
import HedgerowCore

/// Constant, ConstantOfShape, Range and Cast.
enum Constants {
    static let constant: Kernel = { node, _ throws(HedgerowError) in
        if let t = try node.tensor("value") { return [t] }
        switch (node.attributes["value_float"], node.attributes["value_floats"], node.attributes["value_int"], node.attributes["value_ints"]) {
        case (.float(let v)?, _, _, _): return [Tensor(shape: [], floats: [v])]
        case (_, .floats(let v)?, _, _): return [Tensor(shape: [v.count], floats: v)]
        case (_, _, .int(let v)?, _): return [Tensor(shape: [], int64s: [Int64(v)])]
        case (_, _, _, .ints(let v)?): return [Tensor(shape: [v.count], int64s: v.map { Int64($0) })]
        default: throw HedgerowError(.loadFailed, "node '\(node.label)' (Constant): needs value, value_float(s) or value_int(s); other kinds are not supported")
        }
    }

    /// A tensor of the given shape filled with `value` (a one-element tensor; float32 0 by default).
    static let constantOfShape: Kernel = { node, args throws(HedgerowError) in
        let shape = try Operators.input(args, 0, of: node).integers("ConstantOfShape shape of node '\(node.label)'")
        let count = try TensorLimits.count(shape, node: node)
        let value = try node.tensor("value") ?? Tensor(shape: [1], floats: [0])
        guard value.count == 1 else { throw ShapeOperators.bad(node, "value must hold one element, got shape \(value.shape)") }
        return [Tensor(shape: shape, storage: value.storage.repeating(count: count))]
    }
}

/// Cast between the element types the runtime computes with. Float to integer truncates toward zero; NaN
/// becomes 0 and values beyond the integer range saturate (never a trap on a request's data).
/// Range(start, limit, delta): `start + i·delta` for i in 0..<max(⌈(limit − start) / delta⌉, 0), in the inputs'
/// type (float32, int64 or int32). The inputs are data: a zero delta or a count past `TensorLimits` is a 400.
enum NumberRange {
    static let kernel: Kernel = { node, args throws(HedgerowError) in
        let inputs = try (0..<3).map { i throws(HedgerowError) in try Operators.input(args, i, of: node) }
        guard inputs.allSatisfy({ $0.count == 1 }), Set(inputs.map(\.elementType)).count == 1 else {
            throw ShapeOperators.bad(node, "start, limit and delta must be scalars of one type, got \(inputs.map(\.elementType)) of shapes \(inputs.map(\.shape))")
        }
        switch inputs[0].elementType {
        case .float32:
            let (start, limit, delta) = (try inputs[0].floats("")[0], try inputs[1].floats("")[0], try inputs[2].floats("")[0])
            let n = try count(Double(limit - start) / Double(delta), delta: Double(delta), node: node)
            return [Tensor(shape: [n], floats: (0..<n).map { start + Float($0) * delta })]
        case .int64, .int32:
            let v = try inputs.map { t throws(HedgerowError) in try t.integers("") [0] }
            let (span, overflow) = v[1].subtractingReportingOverflow(v[0])
            guard !overflow else { throw ShapeOperators.bad(node, "limit − start overflows") }
            let n = try count(Double(span) / Double(v[2]), delta: Double(v[2]), node: node)
            let values = (0..<n).map { Int64(v[0]) &+ Int64($0) &* Int64(v[2]) }
            return [inputs[0].elementType == .int64 ? Tensor(shape: [n], int64s: values) : Tensor(shape: [n], int32s: values.map { Int32(truncatingIfNeeded: $0) })]
        default:
            throw ShapeOperators.bad(node, "inputs must be float32, int64 or int32, got \(inputs[0].elementType)")
        }
    }

    private static func count(_ steps: Double, delta: Double, node: Node) throws(HedgerowError) -> Int {
        guard delta != 0, !steps.isNaN else { throw ShapeOperators.bad(node, "delta must not be 0 (or the bounds NaN)") }
        let n = steps.rounded(.up)
        guard n <= Double(TensorLimits.maxElements) else { throw ShapeOperators.bad(node, "the range holds \(n) values, more than \(TensorLimits.maxElements)") }
        return Swift.max(Int(n), 0)
    }
}

enum Cast {
    static let kernel: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        // `to` is a datatype number, or before opset 6 its name ("FLOAT").
        let names = ["FLOAT": 1, "INT32": 6, "INT64": 7, "BOOL": 9, "DOUBLE": 11, "FLOAT16": 10, "STRING": 8, "UINT8": 2, "INT8": 3]
        let to = if case .string(let name)? = node.attributes["to"] { names[name.uppercased()] ?? -1 } else { try node.int("to", default: 0) }
        // `to` is an attribute (data): truncated to the protobuf enum's width, an unknown number is refused below.
        guard let type = ElementType(onnx: Int32(truncatingIfNeeded: to)) else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (Cast): casting to \(ElementType.onnxName(Int32(truncatingIfNeeded: to))) is not supported")
        }
        let converted = try convert(x, to: type, node: node)
        // 16-bit floats are computed as float32, but a cast to one keeps only what it holds.
        switch to {
        case 10: return [Tensor(shape: converted.shape, floats: try converted.floats("").map(HalfFloat.roundedToHalf))]
        case 16: return [Tensor(shape: converted.shape, floats: try converted.floats("").map(HalfFloat.roundedToBFloat16))]
        default: return [converted]
        }
    }

    static func convert(_ x: Tensor, to type: ElementType, node: Node) throws(HedgerowError) -> Tensor {
        if x.elementType == type { return x }
        let storage: Tensor.Storage
        switch (x.storage, type) {
        case (.float32(let v), .int64): storage = .int64(v.map(saturating))
        case (.float32(let v), .int32): storage = .int32(v.map { Int32(clamping: saturating($0)) })
        case (.float32(let v), .bool): storage = .bool(v.map { $0 != 0 })
        case (.int64(let v), .float32): storage = .float32(v.map { Float($0) })
        case (.int64(let v), .int32): storage = .int32(v.map { Int32(truncatingIfNeeded: $0) })
        case (.int64(let v), .bool): storage = .bool(v.map { $0 != 0 })
        case (.int32(let v), .float32): storage = .float32(v.map { Float($0) })
        case (.int32(let v), .int64): storage = .int64(v.map { Int64($0) })
        case (.int32(let v), .bool): storage = .bool(v.map { $0 != 0 })
        case (.bool(let v), .float32): storage = .float32(v.map { $0 ? 1 : 0 })
        case (.bool(let v), .int64): storage = .int64(v.map { $0 ? 1 : 0 })
        case (.bool(let v), .int32): storage = .int32(v.map { $0 ? 1 : 0 })
        case (.float32(let v), .string): storage = .string(v.map(text))
        case (.int64(let v), .string): storage = .string(v.map { String($0) })
        case (.int32(let v), .string): storage = .string(v.map { String($0) })
        case (.bool(let v), .string): storage = .string(v.map { $0 ? "1" : "0" })
        case (.string(let v), .float32): storage = .float32(try parse(v, node: node) { Float($0) })
        case (.string(let v), .int64): storage = .int64(try parse(v, node: node) { Int64($0) })
        case (.string(let v), .int32): storage = .int32(try parse(v, node: node) { Int32($0) })
        default:
            throw HedgerowError(.badRequest, "node '\(node.label)' (Cast): casting \(x.elementType) to \(type) is not supported")
        }
        return Tensor(shape: x.shape, storage: storage)
    }

    /// A float as ONNX's tests spell it: the shortest text that reads back to the same float ("0.039187793"),
    /// and NaN, INF, -INF.
    private static func text(_ f: Float) -> String {
        if f.isNaN { return "NaN" }
        if f.isInfinite { return f < 0 ? "-INF" : "INF" }
        return f.description
    }

    /// Text to numbers (ONNX reads "NaN" and "INF" too), each element parsed or the request refused naming it.
    private static func parse<T>(_ texts: [String], node: Node, _ read: (String) -> T?) throws(HedgerowError) -> [T] {
        var out: [T] = []
        out.reserveCapacity(texts.count)
        for (i, text) in texts.enumerated() {
            let spelled = text.trimmingCharacters(in: .whitespaces)
            let normal = ["INF": "inf", "+INF": "inf", "-INF": "-inf", "NAN": "nan"][spelled.uppercased()] ?? spelled
            guard let value = read(normal) else {
                throw HedgerowError(.badRequest, "node '\(node.label)' (Cast): element \(i) (\"\(text.prefix(40))\") is not a number")
            }
            out.append(value)
        }
        return out
    }

    /// Float to Int64 without a trap: 9.223372e18 rounds to 2^63 in Float, so past both guards |f| < 2^63 and the
    /// conversion is exact (truncating toward zero).
    private static func saturating(_ f: Float) -> Int64 {
        if f.isNaN { return 0 }
        if f >= 9.223372e18 { return .max }
        if f <= -9.223372e18 { return .min }
        return Int64(f)
    }
}
