import HedgerowCore

/// Max, Min, Sum and Mean over any number of inputs, broadcast together numpy-style (opset 8+; one input is
/// returned as it is). Max and Min take float32, int64 and int32 (a NaN wins, as numpy's maximum); Sum and Mean
/// float32 and, for Sum, the integers (wrapping).
enum Variadic {
    static let max = fold("Max", float: { a, b in a.isNaN || b.isNaN ? .nan : Swift.max(a, b) }, int: { Swift.max($0, $1) })
    static let min = fold("Min", float: { a, b in a.isNaN || b.isNaN ? .nan : Swift.min(a, b) }, int: { Swift.min($0, $1) })
    static let sum = fold("Sum", float: { $0 + $1 }, int: { $0 &+ $1 })
    static let mean: Kernel = { node, args throws(HedgerowError) in
        let total = try sum(node, args)[0]
        let n = Float(args.compactMap { $0 }.count)
        return [Tensor(shape: total.shape, floats: try total.floats("Mean inputs of node '\(node.label)'").map { $0 / n })]
    }

    private static func fold(_ name: String, float: @escaping @Sendable (Float, Float) -> Float, int: @escaping @Sendable (Int64, Int64) -> Int64) -> Kernel {
        { node, args throws(HedgerowError) in
            let inputs = args.compactMap { $0 }
            guard var result = inputs.first else { throw ShapeOperators.bad(node, "needs at least one input") }
            for next in inputs.dropFirst() {
                switch (result.storage, next.storage) {
                case (.float32(let a), .float32(let b)):
                    let (out, shape) = try Broadcast.binary(a, result.shape, b, next.shape, node: node.label, float)
                    result = Tensor(shape: shape, floats: out)
                case (.int64(let a), .int64(let b)):
                    let (out, shape) = try Broadcast.binary(a, result.shape, b, next.shape, node: node.label, int)
                    result = Tensor(shape: shape, int64s: out)
                case (.int32(let a), .int32(let b)):
                    let (out, shape) = try Broadcast.binary(a, result.shape, b, next.shape, node: node.label) { Int32(truncatingIfNeeded: int(Int64($0), Int64($1))) }
                    result = Tensor(shape: shape, int32s: out)
                default:
                    throw ShapeOperators.bad(node, "inputs must be float32, int64 or int32 of one type, got \(result.elementType) and \(next.elementType)")
                }
            }
            return [result]
        }
    }
}
