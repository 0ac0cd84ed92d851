import HedgerowCore

/// Nodes whose every input is known at load (initializers, and outputs of nodes already folded) are run once at
/// load and replaced by their outputs, held as initializers: Constant nodes, shape arithmetic on weights, weight
/// transposes and casts stop costing anything per request. A node whose kernel fails on those inputs is left as it
/// is (it will fail the same way per request), and so is one whose outputs would hold more than `maxElements`
/// (folding must not grow a version's memory beyond what its own weights justify).
enum ConstantFolding {
    static let maxElements = 1 << 20

    static func run(_ draft: inout GraphDraft) -> [String] {
        var folded: [String: Int] = [:]
        var kept: [Node] = []
        for node in draft.nodes {
            guard node.domain.isEmpty, node.inputs.allSatisfy({ $0.isEmpty || draft.initializers[$0] != nil }),
                  let kernel = Operators.kernel(for: node.opType, opset: draft.opset) else {
                kept.append(node)
                continue
            }
            let args = node.inputs.map { $0.isEmpty ? nil : draft.initializers[$0] }
            let largest = max(maxElements, args.compactMap { $0?.count }.max() ?? 0)
            guard let results = try? kernel(node, args), results.count >= node.outputs.filter({ !$0.isEmpty }).count,
                  results.allSatisfy({ $0.count <= largest && (try? TensorLimits.check($0, node: node)) != nil }) else {
                kept.append(node)
                continue
            }
            for (name, tensor) in zip(node.outputs, results) where !name.isEmpty { draft.initializers[name] = tensor }
            folded[node.opType, default: 0] += 1
        }
        draft.nodes = kept
        guard !folded.isEmpty else { return [] }
        let total = folded.values.reduce(0, +)
        return ["\(total) nodes computed at load (\(folded.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")))"]
    }
}
