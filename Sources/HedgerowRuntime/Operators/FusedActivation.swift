import HedgerowCore

/// An activation applied by the node before it, while its output is still in cache: the activation-fusion pass
/// (GraphOptimizer) sets these attributes on a Conv, Gemm or MatMul whose output only the activation read, and their
/// kernels call `apply` on what they computed. Not ONNX attributes; a model that sets them itself gets what it asks
/// for, or a refusal.
enum FusedActivation {
    /// The activation's op type ("Relu", "LeakyRelu", "Clip", "HardSigmoid", "HardSwish") and its constants.
    static let name = "hedgerow.fused_activation", parameters = "hedgerow.fused_parameters"

    /// Whether the node's fused activation (or its lack of one) never reverses two values' order — f(a) ≤ f(b)
    /// whenever a ≤ b, and NaN stays NaN — so that max pooling commutes with it: Relu, Clip, LeakyRelu with α ≥ 0,
    /// HardSigmoid with α ≥ 0. HardSwish dips below zero and does not; nor does anything this cannot read.
    static func keepsOrder(_ node: Node) -> Bool {
        guard case .string(let name)? = node.attributes[Self.name] else { return node.attributes[Self.name] == nil }
        guard let p = try? node.floats(parameters) else { return false }
        switch name {
        case "Relu": return true
        case "Clip": return p.count == 2
        case "LeakyRelu", "HardSigmoid": return p.count == (name == "LeakyRelu" ? 1 : 2) && p[0] >= 0
        default: return false
        }
    }

    static func apply(_ node: Node, _ out: inout [Float]) throws(HedgerowError) {
        guard case .string(let name)? = node.attributes[Self.name] else { return }
        let p = try node.floats(parameters) ?? []
        func need(_ n: Int) throws(HedgerowError) { if p.count != n { throw ShapeOperators.bad(node, "fused \(name) needs \(n) parameters") } }
        // Flat loops over the buffer, so each vectorizes.
        let p0 = p.first ?? 0, p1 = p.count > 1 ? p[1] : 0
        switch name {
        case "Relu", "HardSwish": break
        case "LeakyRelu": try need(1)
        case "Clip", "HardSigmoid": try need(2)
        default: throw ShapeOperators.bad(node, "unknown fused activation '\(name.prefix(40))'")
        }
        out.withUnsafeMutableBufferPointer { buffer in
            switch name {
            case "Relu": for i in buffer.indices { let v = buffer[i]; buffer[i] = v > 0 || v.isNaN ? v : 0 }
            case "LeakyRelu": for i in buffer.indices { let v = buffer[i]; buffer[i] = v < 0 ? v * p0 : v }
            case "Clip": for i in buffer.indices { buffer[i] = Swift.min(Swift.max(buffer[i], p0), p1) }
            case "HardSigmoid": for i in buffer.indices { let v = buffer[i]; buffer[i] = v.isNaN ? v : Swift.max(0, Swift.min(1, p0 * v + p1)) }
            default: for i in buffer.indices { let v = buffer[i]; buffer[i] = v * Swift.max(0, Swift.min(1, v / 6 + 0.5)) }
            }
        }
    }
}
