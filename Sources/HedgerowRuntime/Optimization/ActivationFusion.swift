import HedgerowCore

/// Conv, Gemm or MatMul → Relu, LeakyRelu, Clip (constant bounds), HardSigmoid or HardSwish, where the producer's
/// output feeds only the activation, becomes one node that applies the activation while its output is still in
/// cache (the kernels read `FusedActivation`): one pass over the output, one node and one buffer fewer per request.
enum ActivationFusion {
    static let fusable: Set<String> = ["Relu", "LeakyRelu", "Clip", "HardSigmoid", "HardSwish"]
    static let producers: Set<String> = ["Conv", "Gemm", "MatMul"]

    static func run(_ draft: inout GraphDraft) -> [String] {
        var fused: [String: Int] = [:]
        var index = 0
        while index < draft.nodes.count {
            let activation = draft.nodes[index]
            guard activation.domain.isEmpty, fusable.contains(activation.opType), let x = activation.inputs.first,
                  let producerIndex = draft.nodes.firstIndex(where: { $0.outputs.first == x && producers.contains($0.opType) && $0.domain.isEmpty }),
                  draft.nodes[producerIndex].attributes[FusedActivation.name] == nil, draft.onlyFeeds(x, index),
                  let parameters = parameters(activation, draft) else {
                index += 1
                continue
            }
            var producer = draft.nodes[producerIndex]
            producer.attributes[FusedActivation.name] = .string(activation.opType)
            producer.attributes[FusedActivation.parameters] = .floats(parameters)
            producer.outputs = [activation.outputs[0]]
            draft.nodes[producerIndex] = producer
            draft.nodes.remove(at: index)
            fused["\(activation.opType) into \(producer.opType)", default: 0] += 1
        }
        guard !fused.isEmpty else { return [] }
        return ["\(fused.values.reduce(0, +)) activations applied inside the node before them (\(fused.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")))"]
    }

    /// The activation's constants: LeakyRelu α; HardSigmoid α, β; Clip low, high (attributes before opset 11,
    /// initializer inputs after; nil when a bound is computed per request, which cannot be fused).
    static func parameters(_ node: Node, _ draft: GraphDraft) -> [Float]? {
        switch node.opType {
        case "LeakyRelu": return (try? node.float("alpha", default: 0.01)).map { [$0] }
        case "HardSigmoid":
            guard let a = try? node.float("alpha", default: 0.2), let b = try? node.float("beta", default: 0.5) else { return nil }
            return [a, b]
        case "Clip":
            if draft.opset < 11 {
                guard let low = try? node.float("min", default: -.infinity), let high = try? node.float("max", default: .infinity) else { return nil }
                return [low, high]
            }
            var bounds: [Float] = [-.infinity, .infinity]
            for i in 1..<min(node.inputs.count, 3) where !node.inputs[i].isEmpty {
                guard let t = draft.initializers[node.inputs[i]], case .float32(let v) = t.storage, v.count == 1 else { return nil }
                bounds[i - 1] = v[0]
            }
            return bounds
        default: return []
        }
    }
}
