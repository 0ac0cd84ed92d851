import HedgerowCore

/// A tree ensemble flattened at load into arrays (structure of arrays, one entry per node), so that evaluating a
/// batch walks arrays and allocates nothing but its output: for each row, each tree is walked from its root to a
/// leaf, and the leaf's weights are added to the row's scores.
///
/// Built from the `nodes_*` attributes of TreeEnsembleClassifier/Regressor and their leaf weights (`class_*` or
/// `target_*`). Checked at load: equal lengths, one node per (tree, node id), children inside their tree, one root
/// per tree, no cycles (so every walk ends within the tree's depth), weights on leaves, targets within the count.
/// Feature indices are checked against the input at run (the input's width is known then): a 400, never a read
/// out of bounds.
struct FlatForest: Sendable {
    enum Mode: UInt8, Sendable {
        /// The first six in TreeEnsemble's (ai.onnx.ml opset 5) numbering, `member` its BRANCH_MEMBER.
        case leq, lt, gte, gt, eq, neq, member, leaf
        init?(_ name: String) {
            switch name {
            case "BRANCH_LEQ": self = .leq
            case "BRANCH_LT": self = .lt
            case "BRANCH_GTE": self = .gte
            case "BRANCH_GT": self = .gt
            case "BRANCH_EQ": self = .eq
            case "BRANCH_NEQ": self = .neq
            case "LEAF": self = .leaf
            default: return nil
            }
        }
    }

    enum Aggregate: String, Sendable {
        case sum = "SUM", average = "AVERAGE", min = "MIN", max = "MAX"
    }

    var feature: [Int32] = []
    var threshold: [Float] = []
    var mode: [Mode] = []
    var trueChild: [Int32] = []
    var falseChild: [Int32] = []
    var missingTracksTrue: [Bool] = []
    /// Leaf weights of node i: `weightTarget[weightStart[i]..<weightStart[i + 1]]` and the same range of `weightValue`.
    var weightStart: [Int32] = []
    var weightTarget: [Int32] = []
    var weightValue: [Float] = []
    var roots: [Int32] = []
    var targets: Int
    /// The largest feature index any branch reads (-1 with no branch).
    var maxFeature: Int = -1
    /// BRANCH_MEMBER sets (TreeEnsemble only): node i's values are `memberValues[memberStart[i]..<memberStart[i + 1]]`
    /// (empty for other nodes; `memberStart` is empty when no node tests membership).
    var memberStart: [Int32] = []
    var memberValues: [Float] = []

    /// An empty forest for `targets`, which the TreeEnsemble builder fills.
    init(targets: Int) { self.targets = targets }

    /// `prefix` is "class" or "target": the attribute names of the leaf weights.
    init(_ node: Node, weights prefix: String, targets: Int) throws(HedgerowError) {
        func fail(_ message: String) -> HedgerowError { HedgerowError(.loadFailed, "node '\(node.label)' (\(node.opType)): \(message)") }
        self.targets = targets
        let treeIds = try node.ints("nodes_treeids") ?? []
        let nodeIds = try node.ints("nodes_nodeids") ?? []
        let featureIds = try node.ints("nodes_featureids") ?? []
        let values = try node.floats("nodes_values") ?? []
        let modes = try node.strings("nodes_modes") ?? []
        let trueIds = try node.ints("nodes_truenodeids") ?? []
        let falseIds = try node.ints("nodes_falsenodeids") ?? []
        let tracks = try node.ints("nodes_missing_value_tracks_true") ?? []
        if node.attributes["nodes_values_as_tensor"] != nil || node.attributes["\(prefix)_weights_as_tensor"] != nil {
            throw fail("double-precision trees (*_as_tensor attributes) are not supported; export with float thresholds")
        }
        let count = treeIds.count
        guard count > 0 else { throw fail("has no nodes") }
        for (name, list) in [("nodes_nodeids", nodeIds.count), ("nodes_featureids", featureIds.count), ("nodes_values", values.count),
                             ("nodes_modes", modes.count), ("nodes_truenodeids", trueIds.count), ("nodes_falsenodeids", falseIds.count)] where list != count {
            throw fail("\(name) has \(list) entries, nodes_treeids \(count): every nodes_* list must have one entry per node")
        }
        guard tracks.isEmpty || tracks.count == count else { throw fail("nodes_missing_value_tracks_true has \(tracks.count) entries for \(count) nodes") }
        guard count <= Int(Int32.max) else { throw fail("has too many nodes") }
        var index: [TreeNode: Int32] = [:]
        index.reserveCapacity(count)
        for i in 0..<count {
            let key = TreeNode(tree: treeIds[i], node: nodeIds[i])
            guard index[key] == nil else { throw fail("tree \(treeIds[i]) has node \(nodeIds[i]) twice") }
            index[key] = Int32(i)
        }
        feature.reserveCapacity(count)
        var isChild = [Bool](repeating: false, count: count)
        for i in 0..<count {
            guard let m = Mode(modes[i]) else { throw fail("node \(nodeIds[i]) of tree \(treeIds[i]) has unknown mode '\(modes[i].prefix(40))'") }
            mode.append(m)
            threshold.append(values[i])
            missingTracksTrue.append(tracks.isEmpty ? false : tracks[i] != 0)
            if m == .leaf {
                feature.append(0)
                trueChild.append(-1)
                falseChild.append(-1)
                continue
            }
            guard featureIds[i] >= 0, featureIds[i] <= Int(Int32.max) else {
                throw fail("node \(nodeIds[i]) of tree \(treeIds[i]) reads feature \(featureIds[i])")
            }
            feature.append(Int32(featureIds[i]))
            maxFeature = max(maxFeature, featureIds[i])
            guard let t = index[TreeNode(tree: treeIds[i], node: trueIds[i])], let f = index[TreeNode(tree: treeIds[i], node: falseIds[i])] else {
                throw fail("node \(nodeIds[i]) of tree \(treeIds[i]) points to a node its tree does not have (\(trueIds[i]) or \(falseIds[i]))")
            }
            trueChild.append(t)
            falseChild.append(f)
            isChild[Int(t)] = true
            isChild[Int(f)] = true
        }
        // One root per tree: its node that no node of the tree points to.
        var rootOf: [Int: Int32] = [:]
        for i in 0..<count where !isChild[i] {
            guard rootOf[treeIds[i]] == nil else { throw fail("tree \(treeIds[i]) has more than one root") }
            rootOf[treeIds[i]] = Int32(i)
        }
        guard Set(treeIds).count == rootOf.count else { throw fail("a tree has no root (its nodes form a cycle)") }
        roots = rootOf.sorted { $0.key < $1.key }.map(\.value)
        try checkAcyclic(count: count, fail: fail)
        // Leaf weights, grouped by node.
        let weightTrees = try node.ints("\(prefix)_treeids") ?? []
        let weightNodes = try node.ints("\(prefix)_nodeids") ?? []
        let weightIds = try node.ints("\(prefix)_ids") ?? []
        let weights = try node.floats("\(prefix)_weights") ?? []
        guard weightNodes.count == weightTrees.count, weightIds.count == weightTrees.count, weights.count == weightTrees.count else {
            throw fail("\(prefix)_treeids, _nodeids, _ids and _weights must have one entry per weight")
        }
        var byNode = [[(Int32, Float)]](repeating: [], count: count)
        for w in 0..<weightTrees.count {
            guard let at = index[TreeNode(tree: weightTrees[w], node: weightNodes[w])] else {
                throw fail("a weight is for node \(weightNodes[w]) of tree \(weightTrees[w]), which does not exist")
            }
            guard mode[Int(at)] == .leaf else { throw fail("a weight is for node \(weightNodes[w]) of tree \(weightTrees[w]), which is not a leaf") }
            guard (0..<targets).contains(weightIds[w]) else {
                throw fail("a weight is for \(prefix) \(weightIds[w]), outside the \(targets) the node declares")
            }
            byNode[Int(at)].append((Int32(weightIds[w]), weights[w]))
        }
        weightStart.reserveCapacity(count + 1)
        for entries in byNode {
            weightStart.append(Int32(weightTarget.count))
            for (target, value) in entries {
                weightTarget.append(target)
                weightValue.append(value)
            }
        }
        weightStart.append(Int32(weightTarget.count))
    }

    private struct TreeNode: Hashable {
        var tree: Int
        var node: Int
    }

    /// Every walk from a root must reach a leaf: no node may be its own descendant.
    func checkAcyclic(count: Int, fail: (String) -> HedgerowError) throws(HedgerowError) {
        // 0 unvisited, 1 on the current path, 2 done.
        var state = [UInt8](repeating: 0, count: count)
        for root in roots {
            var stack: [(node: Int32, expanded: Bool)] = [(root, false)]
            while let (node, expanded) = stack.popLast() {
                let i = Int(node)
                if expanded {
                    state[i] = 2
                    continue
                }
                if state[i] == 2 { continue }
                if state[i] == 1 { throw fail("a tree has a cycle through node index \(i)") }
                state[i] = 1
                stack.append((node, true))
                if mode[i] != .leaf {
                    for child in [trueChild[i], falseChild[i]] {
                        if state[Int(child)] == 1 { throw fail("a tree has a cycle through node index \(child)") }
                        if state[Int(child)] == 0 { stack.append((child, false)) }
                    }
                }
            }
        }
    }

    /// The leaf a row reaches in the tree rooted at `root`.
    @inline(__always)
    func leaf(from root: Int32, row: UnsafeBufferPointer<Float>) -> Int {
        var i = Int(root)
        while true {
            let m = mode[i]
            if m == .leaf { return i }
            let x = row[Int(feature[i])]
            let t = threshold[i]
            var goesTrue: Bool
            switch m {
            case .leq: goesTrue = x <= t
            case .lt: goesTrue = x < t
            case .gte: goesTrue = x >= t
            case .gt: goesTrue = x > t
            case .eq: goesTrue = x == t
            case .neq: goesTrue = x != t
            case .member: goesTrue = memberValues[Int(memberStart[i])..<Int(memberStart[i + 1])].contains(x)
            case .leaf: return i
            }
            if x.isNaN && missingTracksTrue[i] { goesTrue = true }
            i = Int(goesTrue ? trueChild[i] : falseChild[i])
        }
    }

    /// Zeroed scores and flags for `input`'s rows, once the input is wide enough for every feature a branch reads
    /// and its `rows × targets` scores are within the tensor limits (a 400 otherwise).
    func emptyScores(for input: (rows: Int, features: Int, values: [Float]), node: Node) throws(HedgerowError) -> (scores: [Float], present: [Bool]) {
        guard maxFeature < input.features else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (\(node.opType)): the model reads feature \(maxFeature), but the input has \(input.features) features per row")
        }
        let (total, overflow) = input.rows.multipliedReportingOverflow(by: targets)
        guard !overflow, total <= TensorLimits.maxElements else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (\(node.opType)): \(input.rows) rows × \(targets) scores is too large")
        }
        return ([Float](repeating: 0, count: total), [Bool](repeating: false, count: total))
    }

    /// Sums of leaf weights of every row, `rows × targets`, and whether any reached leaf gave each target a weight
    /// (MIN and MAX keep the smallest or largest weight instead of the sum). What is done with them (base values,
    /// averaging, the transform) is the operator's.
    func accumulate(_ input: (rows: Int, features: Int, values: [Float]), aggregate: Aggregate, node: Node) throws(HedgerowError) -> (scores: [Float], present: [Bool]) {
        var (out, present) = try emptyScores(for: input, node: node)
        input.values.withUnsafeBufferPointer { all in
            for r in 0..<input.rows {
                let row = UnsafeBufferPointer(rebasing: all[(r * input.features)..<((r + 1) * input.features)])
                let base = r * targets
                for root in roots {
                    let leaf = leaf(from: root, row: row)
                    for w in Int(weightStart[leaf])..<Int(weightStart[leaf + 1]) {
                        let at = base + Int(weightTarget[w])
                        let v = weightValue[w]
                        switch aggregate {
                        case .sum, .average: out[at] += v
                        case .min: out[at] = present[at] ? Swift.min(out[at], v) : v
                        case .max: out[at] = present[at] ? Swift.max(out[at], v) : v
                        }
                        present[at] = true
                    }
                }
            }
        }
        return (out, present)
    }
}
