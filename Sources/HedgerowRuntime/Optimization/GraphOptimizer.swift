import HedgerowCore

/// A graph between parsing and kernels: what the optimisation passes rewrite. `nodes` is in topological order and
/// stays so (passes only remove nodes, rename what later nodes read, or fold a node into the one before it).
struct GraphDraft {
    var nodes: [Node]
    var initializers: [String: Tensor]
    let inputs: Set<String>
    let outputs: Set<String>
    let opset: Int

    /// Indices of the nodes that read `value`.
    func readers(of value: String) -> [Int] {
        nodes.indices.filter { nodes[$0].inputs.contains(value) }
    }

    /// `value` is read by exactly the node at `index` and is not a graph output: a pass may make it disappear.
    func onlyFeeds(_ value: String, _ index: Int) -> Bool {
        !outputs.contains(value) && readers(of: value) == [index]
    }

    /// Drops initializers that no node reads and no graph output names (what folding replaced), so a version's
    /// weights are held once.
    mutating func dropUnreadInitializers() -> Int {
        let read = Set(nodes.flatMap(\.inputs)).union(outputs)
        let unread = initializers.keys.filter { !read.contains($0) }
        for name in unread { initializers[name] = nil }
        return unread.count
    }
}

/// The optimisation passes run once at load, in order. Each is a pure function of the draft, returns one line per
/// kind of change it made (for the version's load log), and keeps what the graph computes: its tests run graphs
/// before and after on the same inputs (GraphOptimizerTests, on hand-built graphs and every example model).
public enum GraphOptimizer {
    typealias Pass = @Sendable (inout GraphDraft) -> [String]

    static let passes: [(name: String, run: Pass)] = [
        ("constant-folding", ConstantFolding.run),
        ("identity-elimination", IdentityElimination.run),
        ("conv-batchnorm-folding", ConvBatchNormFolding.run),
        ("conv-affine-folding", ConvAffineFolding.run),
        ("hardswish-recognition", HardSwishRecognition.run),
        ("matmul-bias-fusion", MatMulBiasFusion.run),
        ("activation-fusion", ActivationFusion.run),
        ("conv-maxpool-fusion", ConvMaxPoolFusion.run),
    ]

    /// Runs every pass; returns "pass: change" lines, empty when nothing changed.
    static func optimize(_ draft: inout GraphDraft) -> [String] {
        var report: [String] = []
        for pass in passes {
            report += pass.run(&draft).map { "\(pass.name): \($0)" }
        }
        let dropped = draft.dropUnreadInitializers()
        if dropped > 0 { report.append("dropped \(dropped) initializers nothing reads any more") }
        return report
    }
}
