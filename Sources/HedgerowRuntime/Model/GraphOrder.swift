import HedgerowCore

/// Ordering and liveness of a graph's nodes, computed once at load.
enum GraphOrder {
    /// Kahn's algorithm over value names. A node whose input nobody produces, or a cycle, is a load error naming
    /// the node. Empty input names are ONNX's "optional input left out" and need no producer.
    static func topological(_ nodes: [Node], available: Set<String>, source: String) throws(HedgerowError) -> [Node] {
        var producer: [String: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for output in node.outputs where !output.isEmpty {
                if producer[output] != nil || available.contains(output) {
                    throw HedgerowError(.loadFailed, "\(source): value '\(output)' is produced twice (second time by node '\(node.label)')")
                }
                producer[output] = index
            }
        }
        var waitingOn = [Int](repeating: 0, count: nodes.count)
        var consumers: [Int: [Int]] = [:]
        for (index, node) in nodes.enumerated() {
            for input in node.inputs where !input.isEmpty && !available.contains(input) {
                guard let p = producer[input] else {
                    throw HedgerowError(.loadFailed, "\(source): node '\(node.label)' (\(node.opType)) reads '\(input)', which no node, input or initializer provides")
                }
                waitingOn[index] += 1
                consumers[p, default: []].append(index)
            }
        }
        var ready = (0..<nodes.count).filter { waitingOn[$0] == 0 }
        var order: [Node] = []
        order.reserveCapacity(nodes.count)
        var cursor = 0
        while cursor < ready.count {
            let index = ready[cursor]
            cursor += 1
            order.append(nodes[index])
            for consumer in consumers[index] ?? [] {
                waitingOn[consumer] -= 1
                if waitingOn[consumer] == 0 { ready.append(consumer) }
            }
        }
        guard order.count == nodes.count else {
            let stuck = nodes.indices.first { waitingOn[$0] > 0 }.map { nodes[$0].label } ?? "?"
            throw HedgerowError(.loadFailed, "\(source): the graph has a cycle through node '\(stuck)'")
        }
        return order
    }
}
