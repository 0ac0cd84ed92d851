import HedgerowCore

/// Conv → Mul or Add by a constant that is one value per output channel (or one value), where the Conv's output
/// feeds only that node, becomes one Conv with scaled weights and bias (Mul: W'[m] = W[m]·c[m], B'[m] = B[m]·c[m])
/// or a shifted bias (Add: B'[m] = B[m] + c[m]). Paddle exports a learnable scale and shift after most of its
/// convolutions this way (PP-OCRv4's "mobile_one_block" weights): two passes over each output, gone.
/// The new weights are initializers of their own (the originals are dropped when nothing else reads them).
enum ConvAffineFolding {
    static func run(_ draft: inout GraphDraft) -> [String] {
        var folded: [String: Int] = [:]
        var index = 0
        while index < draft.nodes.count {
            if let op = fold(at: index, &draft) { folded[op, default: 0] += 1 } else { index += 1 }
        }
        guard !folded.isEmpty else { return [] }
        return ["\(folded.values.reduce(0, +)) per-channel constants folded into the Conv before them (\(folded.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")))"]
    }

    /// Folds the Mul or Add at `index` into its Conv, if they qualify; its op type when it did.
    private static func fold(at index: Int, _ draft: inout GraphDraft) -> String? {
        let node = draft.nodes[index]
        guard node.domain.isEmpty, node.opType == "Mul" || node.opType == "Add", node.inputs.count == 2, node.outputs.count == 1 else { return nil }
        for (convSide, constantSide) in [(0, 1), (1, 0)] {
            let product = node.inputs[convSide]
            guard let constant = draft.initializers[node.inputs[constantSide]], case .float32(let c) = constant.storage,
                  let convIndex = draft.nodes.firstIndex(where: { $0.outputs.first == product }), draft.onlyFeeds(product, index) else { continue }
            let conv = draft.nodes[convIndex]
            guard conv.domain.isEmpty, conv.opType == "Conv", conv.inputs.count >= 2, conv.attributes[FusedActivation.name] == nil,
                  let w = draft.initializers[conv.inputs[1]], case .float32(let weights) = w.storage, w.shape.count >= 3,
                  let perChannel = perChannel(c, shape: constant.shape, filters: w.shape[0], outputRank: w.shape.count) else { continue }
            let filters = w.shape[0]
            var bias = [Float](repeating: 0, count: filters)
            if conv.inputs.count > 2, !conv.inputs[2].isEmpty {
                guard let b = draft.initializers[conv.inputs[2]], case .float32(let values) = b.storage, values.count == filters else { continue }
                bias = values
            }
            var newWeights = weights
            if node.opType == "Mul" {
                let perFilter = filters == 0 ? 0 : weights.count / filters
                for m in 0..<filters {
                    for i in 0..<perFilter { newWeights[m * perFilter + i] *= perChannel[m] }
                    bias[m] *= perChannel[m]
                }
            } else {
                for m in 0..<filters { bias[m] += perChannel[m] }
            }
            let stem = "\(conv.inputs[1])::folded-\(node.label)"
            var fused = conv
            if node.opType == "Mul" {
                draft.initializers[stem + "-W"] = Tensor(shape: w.shape, floats: newWeights)
                fused.inputs = [conv.inputs[0], stem + "-W", stem + "-B"]
            } else {
                fused.inputs = [conv.inputs[0], conv.inputs[1], stem + "-B"]
            }
            draft.initializers[stem + "-B"] = Tensor(shape: [filters], floats: bias)
            fused.outputs = node.outputs
            draft.nodes[convIndex] = fused
            draft.nodes.remove(at: index)
            return node.opType
        }
        return nil
    }

    /// `c` as one value per filter, if its shape broadcast onto a Conv output of `outputRank` ([N, M, spatial…])
    /// leaves that shape unchanged and varies along M at most; nil otherwise.
    static func perChannel(_ c: [Float], shape: [Int], filters: Int, outputRank: Int) -> [Float]? {
        guard shape.count <= outputRank else { return nil }
        // Right-aligned against [N, M, spatial…]: every axis of c is 1 but the channel axis, which may be M.
        let channelAxis = shape.count - (outputRank - 1)
        for (axis, dim) in shape.enumerated() where dim != 1 {
            guard axis == channelAxis, dim == filters else { return nil }
        }
        if c.count == 1 { return [Float](repeating: c[0], count: filters) }
        return c.count == filters ? c : nil
    }
}
