/// A graph's value names resolved once at load, so a run indexes arrays instead of hashing names: every value a
/// run produces gets a slot, every initializer an index into `constants` (held once, never copied per run), and
/// each node knows which slots it reads, which it writes, and which it is the last reader of.
///
/// References are resolved in node order, as a run would see names: an input a node reads is the latest value of
/// that name written before it (a graph input, an initializer, an earlier node's output).
struct ExecutionPlan: Sendable {
    /// A reference to a value: ≥ 0 a run slot, < 0 the initializer `constants[-1 - ref]`, `absent` for an optional
    /// input left out (or an output nobody named).
    typealias Reference = Int
    static let absent: Reference = .min

    let constants: [Tensor]
    let slotCount: Int
    /// The graph inputs' slots: the first ones, 0..<inputs.count.
    let inputSlots: [Int]
    let nodeInputs: [[Reference]]
    let nodeOutputs: [[Reference]]
    /// `releases[i]`: slots node i reads last; a run drops them after the node, so intermediates live no longer
    /// than their last reader (never a graph output).
    let releases: [[Int]]
    /// Slots whose buffer goes back to the graph's pool when released: the last holder of a buffer a node made,
    /// once every view of it (`viewOps`) is released too. Never a graph input's, an initializer's or a buffer a
    /// graph output shares.
    let recycled: Set<Int>
    let outputReferences: [Reference]
    /// The nodes, each behind one reference: handing a node to its kernel then costs one retain, not one per field.
    let nodes: [NodeReference]
    /// The most inputs any node reads.
    let widestNode: Int

    final class NodeReference: Sendable {
        let node: Node
        init(_ node: Node) { self.node = node }
    }

    init(inputs: [String], nodes: [Node], initializers: [String: Tensor], outputs: [String]) {
        var names: [String: Reference] = [:]
        var constants: [Tensor] = []
        for (name, tensor) in initializers.sorted(by: { $0.key < $1.key }) {
            constants.append(tensor)
            names[name] = -constants.count
        }
        var slotCount = 0
        func newSlot() -> Int { defer { slotCount += 1 }; return slotCount }
        let inputSlots = inputs.map { name -> Int in
            let slot = newSlot()
            names[name] = slot
            return slot
        }
        var nodeInputs: [[Reference]] = [], nodeOutputs: [[Reference]] = []
        for node in nodes {
            nodeInputs.append(node.inputs.map { $0.isEmpty ? Self.absent : names[$0] ?? Self.absent })
            nodeOutputs.append(node.outputs.map { name in
                guard !name.isEmpty else { return Self.absent }
                let slot = newSlot()
                names[name] = slot
                return slot
            })
        }
        let outputReferences = outputs.map { names[$0] ?? Self.absent }
        let kept = Set(outputReferences)
        var lastReader: [Int: Int] = [:]
        for (index, references) in nodeInputs.enumerated() {
            for reference in references where reference >= 0 { lastReader[reference] = index }
        }
        var releases = [[Int]](repeating: [], count: nodes.count)
        for (slot, index) in lastReader.sorted(by: { $0.key < $1.key }) where !kept.contains(slot) { releases[index].append(slot) }
        // An output nobody reads (a Dropout mask, an optional statistic) goes as soon as it is written.
        for (index, references) in nodeOutputs.enumerated() {
            for slot in references where slot >= 0 && lastReader[slot] == nil && !kept.contains(slot) { releases[index].append(slot) }
        }
        recycled = Self.lastHolders(nodes, nodeInputs, nodeOutputs, releases: releases, inputCount: inputs.count, slotCount: slotCount, kept: kept)
        self.nodes = nodes.map(NodeReference.init)
        widestNode = nodes.map(\.inputs.count).max() ?? 0
        (self.constants, self.slotCount, self.inputSlots) = (constants, slotCount, inputSlots)
        (self.nodeInputs, self.nodeOutputs, self.releases, self.outputReferences) = (nodeInputs, nodeOutputs, releases, outputReferences)
    }

    /// Operators whose output shares its input's buffer (`Tensor.reshaped`, or the input itself).
    static let viewOps: Set<String> = ["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"]

    /// For each buffer a node makes, the slot released last among it and its views, if all of them are released.
    private static func lastHolders(
        _ nodes: [Node], _ nodeInputs: [[Reference]], _ nodeOutputs: [[Reference]], releases: [[Int]], inputCount: Int, slotCount: Int, kept: Set<Int>
    ) -> Set<Int> {
        // The slot whose buffer each slot holds; -1 for buffers that are not the run's (inputs, initializers).
        var root = (0..<slotCount).map { $0 < inputCount ? -1 : $0 }
        for (index, node) in nodes.enumerated() where node.domain.isEmpty && viewOps.contains(node.opType) {
            guard let output = nodeOutputs[index].first, output >= 0 else { continue }
            let input = nodeInputs[index].first ?? absent
            root[output] = input >= 0 ? root[input] : -1
        }
        var releasedAt: [Int: Int] = [:]
        for (index, slots) in releases.enumerated() { for slot in slots { releasedAt[slot] = index } }
        var holders: [Int: [Int]] = [:]
        for slot in 0..<slotCount where root[slot] >= 0 { holders[root[slot], default: []].append(slot) }
        var last = Set<Int>()
        for members in holders.values where members.allSatisfy({ !kept.contains($0) && releasedAt[$0] != nil }) {
            if let final = members.max(by: { releasedAt[$0, default: 0] < releasedAt[$1, default: 0] }) { last.insert(final) }
        }
        return last
    }

    /// The value a reference names in a run's slots.
    @inline(__always)
    func value(_ reference: Reference, in slots: [Tensor?]) -> Tensor? {
        reference >= 0 ? slots[reference] : reference == Self.absent ? nil : constants[-1 - reference]
    }
}
