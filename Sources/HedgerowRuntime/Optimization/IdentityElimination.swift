import HedgerowCore

/// Identity, and Dropout in inference (one output, no training_mode input), pass their input through: the nodes
/// after them read the input directly and the node goes. One whose output is a graph output stays (the output must
/// keep its name).
enum IdentityElimination {
    static func run(_ draft: inout GraphDraft) -> [String] {
        var removed = 0
        var index = 0
        while index < draft.nodes.count {
            let node = draft.nodes[index]
            let passThrough = node.domain.isEmpty && (node.opType == "Identity"
                || (node.opType == "Dropout" && node.inputs.count == 1 && node.outputs.dropFirst().allSatisfy { $0.isEmpty || draft.readers(of: $0).isEmpty && !draft.outputs.contains($0) }))
            guard passThrough, let input = node.inputs.first, !input.isEmpty, let output = node.outputs.first, !draft.outputs.contains(output) else {
                index += 1
                continue
            }
            for reader in draft.readers(of: output) {
                draft.nodes[reader].inputs = draft.nodes[reader].inputs.map { $0 == output ? input : $0 }
            }
            draft.nodes.remove(at: index)
            removed += 1
        }
        return removed > 0 ? ["\(removed) Identity/Dropout nodes removed"] : []
    }
}
