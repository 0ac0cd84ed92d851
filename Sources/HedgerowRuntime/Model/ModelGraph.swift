import HedgerowCore

/// A loaded, checked ONNX graph, ready to run many times concurrently.
///
/// Invariants established at load: `nodes` is in topological order; every node input is a graph input, an
/// initializer or an earlier node's output; every op has a kernel. Initializers are held once here and shared by
/// every run (never copied per request). `plan` resolves every name to a slot once, so a run indexes arrays and
/// releases each intermediate right after its last reader. Every tensor a run holds has a valid shape
/// (`TensorLimits`): initializers are checked at load, feeds on entry, and each kernel's results as they come.
public struct ModelGraph: Sendable {
    public let inputs: [TensorSignature]
    /// Values the server supplies rather than the client: a sharded entry's looked-up rows (`EntryGraph`). Fed to
    /// `run` like inputs, never asked of clients (codecs and metadata see `inputs` only).
    public let suppliedInputs: [TensorSignature]
    /// `inputs` then `suppliedInputs`: every value `run` is fed, in the plan's slot order.
    private let fedInputs: [TensorSignature]
    public let outputs: [TensorSignature]
    let nodes: [Node]
    let kernels: [Kernel]
    let initializers: [String: Tensor]
    let plan: ExecutionPlan
    /// The float buffers this version's runs reuse (shared by every copy of the graph and every thread). At rest
    /// it holds about one run's peak of intermediates per run in flight: 1.4 MiB for the encoder at batch 32,
    /// 0.7 MiB for the CNN, about 50 MiB for a 320×320 text detector. A fixed cap of 32 MiB made that detector's
    /// buffers churn through the allocator again (its runs went from 52 to 80 ms, with seven times the page faults),
    /// so the pool sizes itself from the runs it sees.
    let buffers = BufferPool()
    public let opsetVersion: Int
    /// What the optimisation passes changed at load, one line per kind of change ("conv-batchnorm-folding: 6
    /// BatchNormalization nodes folded into the Conv before them"); the worker logs them when a version loads.
    public internal(set) var optimizations: [String] = []

    init(
        inputs: [TensorSignature], outputs: [TensorSignature], nodes: [Node], kernels: [Kernel], initializers: [String: Tensor],
        opsetVersion: Int, optimizations: [String] = [], suppliedInputs: [TensorSignature] = []
    ) {
        (self.inputs, self.outputs, self.nodes, self.kernels, self.initializers) = (inputs, outputs, nodes, kernels, initializers)
        (self.opsetVersion, self.optimizations, self.suppliedInputs) = (opsetVersion, optimizations, suppliedInputs)
        fedInputs = inputs + suppliedInputs
        plan = ExecutionPlan(inputs: fedInputs.map(\.name), nodes: nodes, initializers: initializers, outputs: outputs.map(\.name))
    }

    /// The same graph with the named inputs moved to `suppliedInputs` (in that order).
    func supplying(_ names: [String]) -> ModelGraph {
        let supplied = names.compactMap { name in inputs.first { $0.name == name } }
        return ModelGraph(
            inputs: inputs.filter { !names.contains($0.name) }, outputs: outputs, nodes: nodes, kernels: kernels, initializers: initializers,
            opsetVersion: opsetVersion, optimizations: optimizations, suppliedInputs: supplied
        )
    }

    /// Bytes held by initializers: what a loaded version costs in memory, to a first approximation.
    public var weightBytes: Int {
        initializers.values.reduce(0) { $0 + $1.bytes }
    }

    /// Runs the graph on named inputs and returns every graph output by name.
    /// Bytes of intermediate buffers this version holds for its next runs.
    public var pooledBytes: Int { buffers.heldBytes }

    public func run(_ feeds: [String: Tensor]) throws(HedgerowError) -> [String: Tensor] {
        var slots = [Tensor?](repeating: nil, count: plan.slotCount)
        for (signature, slot) in zip(fedInputs, plan.inputSlots) {
            guard let tensor = feeds[signature.name] else {
                throw HedgerowError(.badRequest, "missing input '\(signature.name)' (expected shape \(signature.metadataShapeText))")
            }
            try signature.check(tensor)
            // A request's tensor is outside data: its shape must be one the kernels may compute with.
            _ = try TensorLimits.count(tensor.shape, what: "input '\(signature.name)'")
            slots[slot] = tensor
        }
        if feeds.count != fedInputs.count || feeds.keys.contains(where: { name in !fedInputs.contains { $0.name == name } }) {
            let unknown = feeds.keys.sorted().first { name in !fedInputs.contains { $0.name == name } } ?? "?"
            throw HedgerowError(.badRequest, "unknown input '\(unknown)'; the model takes \(inputs.map { "'\($0.name)'" }.joined(separator: ", "))")
        }
        return try buffers.using { () throws(HedgerowError) in try execute(&slots) }
    }

    /// Runs every node over `slots` (inputs in place), giving each intermediate's buffer back to the pool after its
    /// last reader, and returns the outputs.
    private func execute(_ slots: inout [Tensor?]) throws(HedgerowError) -> [String: Tensor] {
        // One argument list for every node: emptied (keeping its capacity) once the kernel has let go of it.
        var args = [Tensor?]()
        args.reserveCapacity(plan.widestNode)
        // Float bytes held by the run's slots, and their most: what sizes the pool.
        var live = 0, peak = 0
        defer { buffers.observe(peakBytes: peak) }
        for index in nodes.indices {
            for reference in plan.nodeInputs[index] { args.append(plan.value(reference, in: slots)) }
            let node = plan.nodes[index]
            let results = try kernels[index](node.node, args)
            args.removeAll(keepingCapacity: true)
            for (slot, tensor) in zip(plan.nodeOutputs[index], results) where slot != ExecutionPlan.absent {
                // Kernels check what they allocate; this keeps the valid-shape invariant for the next node (O(rank)).
                try TensorLimits.check(tensor, node: node.node)
                live += Self.floatBytes(tensor)
                slots[slot] = tensor
            }
            peak = Swift.max(peak, live)
            for slot in plan.releases[index] {
                live -= slots[slot].map(Self.floatBytes) ?? 0
                if plan.recycled.contains(slot) { recycle(&slots[slot]) } else { slots[slot] = nil }
            }
        }
        var result: [String: Tensor] = [:]
        for (output, reference) in zip(outputs, plan.outputReferences) {
            guard let tensor = plan.value(reference, in: slots) else {
                throw HedgerowError(.internalError, "graph output '\(output.name)' was not produced")
            }
            result[output.name] = tensor
        }
        return result
    }

    private static func floatBytes(_ tensor: Tensor) -> Int { tensor.elementType == .float32 ? tensor.count * 4 : 0 }

    /// Empties a slot, handing a float intermediate's buffer to the pool.
    private func recycle(_ slot: inout Tensor?) {
        guard let tensor = slot.take(), case .float32(let values) = tensor.storage else { return }
        buffers.give(values)
    }
}
