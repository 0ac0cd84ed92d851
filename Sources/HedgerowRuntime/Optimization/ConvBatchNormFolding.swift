import HedgerowCore

/// Conv → BatchNormalization (inference), where the Conv's output feeds only the BatchNormalization and every
/// parameter is an initializer, becomes one Conv with scaled weights and a shifted bias:
/// a = scale / √(var + ε); W'[m] = W[m]·a[m]; B'[m] = (B[m] − mean[m])·a[m] + β[m].
/// The new weights are initializers of their own (the originals are dropped when nothing else reads them).
enum ConvBatchNormFolding {
    static func run(_ draft: inout GraphDraft) -> [String] {
        var folded = 0
        var index = 0
        while index < draft.nodes.count {
            if fold(at: index, &draft) { folded += 1 } else { index += 1 }
        }
        return folded > 0 ? ["\(folded) BatchNormalization nodes folded into the Conv before them"] : []
    }

    /// Folds the BatchNormalization at `index` into its Conv, if it qualifies; true when it did.
    private static func fold(at index: Int, _ draft: inout GraphDraft) -> Bool {
        let bn = draft.nodes[index]
        guard bn.domain.isEmpty, bn.opType == "BatchNormalization", bn.inputs.count == 5, bn.outputs.dropFirst().allSatisfy(\.isEmpty),
              (try? bn.int("training_mode", default: 0)) == 0, let epsilon = try? bn.float("epsilon", default: 1e-5),
              let convIndex = draft.nodes.firstIndex(where: { $0.outputs.first == bn.inputs[0] }),
              draft.onlyFeeds(bn.inputs[0], index) else { return false }
        let conv = draft.nodes[convIndex]
        guard conv.domain.isEmpty, conv.opType == "Conv", conv.inputs.count >= 2,
              let w = draft.initializers[conv.inputs[1]], case .float32(let weights) = w.storage, w.shape.count >= 3 else { return false }
        let filters = w.shape[0]
        var parameters: [[Float]] = []
        for name in bn.inputs[1...] {
            guard let t = draft.initializers[name], case .float32(let values) = t.storage, values.count == filters else { return false }
            parameters.append(values)
        }
        var bias = [Float](repeating: 0, count: filters)
        if conv.inputs.count > 2, !conv.inputs[2].isEmpty {
            guard let b = draft.initializers[conv.inputs[2]], case .float32(let values) = b.storage, values.count == filters else { return false }
            bias = values
        }
        let (scale, shift, mean, variance) = (parameters[0], parameters[1], parameters[2], parameters[3])
        let a = (0..<filters).map { scale[$0] / (variance[$0] + epsilon).squareRoot() }
        let perFilter = filters == 0 ? 0 : weights.count / filters
        var newWeights = weights
        for m in 0..<filters { for i in 0..<perFilter { newWeights[m * perFilter + i] *= a[m] } }
        let newBias = (0..<filters).map { (bias[$0] - mean[$0]) * a[$0] + shift[$0] }
        let stem = "\(conv.inputs[1])::folded-\(bn.label)"
        draft.initializers[stem + "-W"] = Tensor(shape: w.shape, floats: newWeights)
        draft.initializers[stem + "-B"] = Tensor(shape: [filters], floats: newBias)
        var fused = conv
        fused.inputs = [conv.inputs[0], stem + "-W", stem + "-B"]
        fused.outputs = [bn.outputs[0]]
        draft.nodes[convIndex] = fused
        draft.nodes.remove(at: index)
        return true
    }
}
