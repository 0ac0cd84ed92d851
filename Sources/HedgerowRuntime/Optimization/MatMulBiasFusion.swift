import HedgerowCore

/// MatMul(X, W) → Add(·, B), with W a [K, N] initializer, B an [N] initializer and the product read by the Add
/// alone, becomes one MatMul that starts from B in every row and accumulates the product onto it (BLAS's β = 1):
/// what PyTorch and TensorFlow export for every dense layer whose input has more than two dimensions (a 2-D one
/// exports as Gemm already). One pass over the output and one allocation fewer per layer and request.
/// The fused node keeps op type MatMul with B as a third input and `LinearAlgebra.fusedBias` set.
enum MatMulBiasFusion {
    static func run(_ draft: inout GraphDraft) -> [String] {
        var fused = 0
        var index = 0
        while index < draft.nodes.count {
            if fuse(at: index, &draft) { fused += 1 } else { index += 1 }
        }
        return fused > 0 ? ["\(fused) bias Adds applied inside the MatMul before them"] : []
    }

    /// Fuses the Add at `index` into its MatMul, if they qualify; true when it did.
    private static func fuse(at index: Int, _ draft: inout GraphDraft) -> Bool {
        let add = draft.nodes[index]
        guard add.domain.isEmpty, add.opType == "Add", add.inputs.count == 2, add.outputs.count == 1 else { return false }
        for (productSide, biasSide) in [(0, 1), (1, 0)] {
            let product = add.inputs[productSide], biasName = add.inputs[biasSide]
            guard let bias = draft.initializers[biasName], case .float32 = bias.storage, bias.shape.count == 1,
                  let matMulIndex = draft.nodes.firstIndex(where: { $0.outputs.first == product }),
                  draft.onlyFeeds(product, index) else { continue }
            let matMul = draft.nodes[matMulIndex]
            guard matMul.domain.isEmpty, matMul.opType == "MatMul", matMul.inputs.count == 2, matMul.attributes.isEmpty,
                  let w = draft.initializers[matMul.inputs[1]], case .float32 = w.storage, w.shape.count == 2,
                  w.shape[1] == bias.shape[0] else { continue }
            var fusedNode = matMul
            fusedNode.inputs.append(biasName)
            fusedNode.outputs = add.outputs
            fusedNode.attributes[LinearAlgebra.fusedBias] = .int(1)
            draft.nodes[matMulIndex] = fusedNode
            draft.nodes.remove(at: index)
            return true
        }
        return false
    }
}
