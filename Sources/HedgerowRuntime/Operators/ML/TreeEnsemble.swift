import HedgerowCore

/// TreeEnsemble (ai.onnx.ml opset 5): the newer, single operator for tree regressors, with nodes addressed by
/// position, leaves in their own arrays, integer-coded modes and transforms, and BRANCH_MEMBER set tests. It is
/// flattened into the same `FlatForest` as TreeEnsembleRegressor (branches first, then one node per leaf) and
/// finished the same way, without base values.
///
/// Checked at load: every nodes_* list has one entry per node and leaf_* one per leaf; children and roots inside
/// their arrays; modes 0–6; one membership set per BRANCH_MEMBER node; targets inside `n_targets`; no cycle.
enum TreeEnsemble {
    static func kernel(_ node: Node) throws(HedgerowError) -> Kernel {
        func fail(_ message: String) -> HedgerowError { HedgerowError(.loadFailed, "node '\(node.label)' (TreeEnsemble): \(message)") }
        func floats(_ key: String) throws(HedgerowError) -> [Float] {
            guard let tensor = try node.tensor(key) else { return [] }
            return try Cast.convert(tensor, to: .float32, node: node).floats(key)
        }
        let targets = try node.int("n_targets", default: 0)
        guard (1...1_000_000).contains(targets) else { throw fail("n_targets must be from 1 to 1,000,000, got \(targets)") }
        let features = try node.ints("nodes_featureids") ?? []
        let splits = try floats("nodes_splits")
        let modes = try node.tensor("nodes_modes").map { t throws(HedgerowError) in try t.integers("nodes_modes") } ?? []
        let trueIds = try node.ints("nodes_truenodeids") ?? [], falseIds = try node.ints("nodes_falsenodeids") ?? []
        let trueLeafs = try node.ints("nodes_trueleafs") ?? [], falseLeafs = try node.ints("nodes_falseleafs") ?? []
        let tracks = try node.ints("nodes_missing_value_tracks_true") ?? []
        let roots = try node.ints("tree_roots") ?? []
        let leafTargets = try node.ints("leaf_targetids") ?? [], leafWeights = try floats("leaf_weights")
        let members = try floats("membership_values")
        let count = features.count
        guard count > 0, count <= Int(Int32.max / 2) else { throw fail("has no nodes, or too many") }
        for (name, n) in [("nodes_splits", splits.count), ("nodes_modes", modes.count), ("nodes_truenodeids", trueIds.count),
                          ("nodes_falsenodeids", falseIds.count), ("nodes_trueleafs", trueLeafs.count), ("nodes_falseleafs", falseLeafs.count)] where n != count {
            throw fail("\(name) has \(n) entries, nodes_featureids \(count): every nodes_* list must have one entry per node")
        }
        guard tracks.isEmpty || tracks.count == count else { throw fail("nodes_missing_value_tracks_true has \(tracks.count) entries for \(count) nodes") }
        let leaves = leafWeights.count
        guard leaves > 0, leaves == leafTargets.count, leaves <= Int(Int32.max / 2) else {
            throw fail("leaf_targetids (\(leafTargets.count)) and leaf_weights (\(leaves)) must have one entry per leaf")
        }
        guard !roots.isEmpty, roots.allSatisfy({ (0..<count).contains($0) }) else { throw fail("tree_roots must name nodes (0 to \(count - 1))") }

        var forest = FlatForest(targets: targets)
        // One set per BRANCH_MEMBER node, in node order, each ended by a NaN (the last one's NaN may be left out).
        var memberSets = members.split(omittingEmptySubsequences: false, whereSeparator: \.isNaN).map(Array.init)[...]
        if members.last.map({ $0.isNaN }) ?? true { memberSets = memberSets.dropLast() }
        let anyMember = modes.contains(6)
        for i in 0..<count {
            guard let mode = FlatForest.Mode(rawValue: UInt8(clamping: max(modes[i], 0))), mode != .leaf, (0...6).contains(modes[i]) else {
                throw fail("node \(i) has mode \(modes[i]); modes are 0 (LEQ) to 6 (MEMBER)")
            }
            guard (0...Int(Int32.max)).contains(features[i]) else { throw fail("node \(i) reads feature \(features[i])") }
            func child(_ id: Int, leaf: Int) throws(HedgerowError) -> Int32 {
                if leaf != 0 {
                    guard (0..<leaves).contains(id) else { throw fail("node \(i) points to leaf \(id), outside the \(leaves) leaves") }
                    return Int32(count + id)
                }
                guard (0..<count).contains(id) else { throw fail("node \(i) points to node \(id), outside the \(count) nodes") }
                return Int32(id)
            }
            forest.mode.append(mode)
            forest.feature.append(Int32(features[i]))
            forest.maxFeature = max(forest.maxFeature, features[i])
            forest.threshold.append(splits[i])
            forest.trueChild.append(try child(trueIds[i], leaf: trueLeafs[i]))
            forest.falseChild.append(try child(falseIds[i], leaf: falseLeafs[i]))
            forest.missingTracksTrue.append(tracks.isEmpty ? false : tracks[i] != 0)
            if anyMember {
                forest.memberStart.append(Int32(forest.memberValues.count))
                if mode == .member {
                    guard let set = memberSets.popFirst() else { throw fail("node \(i) tests membership, but membership_values has no set left for it") }
                    forest.memberValues += set
                }
            }
        }
        for l in 0..<leaves {
            guard (0..<targets).contains(leafTargets[l]) else { throw fail("leaf \(l) is for target \(leafTargets[l]), outside the \(targets) the node declares") }
            forest.mode.append(.leaf)
            forest.feature.append(0)
            forest.threshold.append(0)
            forest.trueChild.append(-1)
            forest.falseChild.append(-1)
            forest.missingTracksTrue.append(false)
            if anyMember { forest.memberStart.append(Int32(forest.memberValues.count)) }
            forest.weightStart.append(Int32(l))
            forest.weightTarget.append(Int32(leafTargets[l]))
            forest.weightValue.append(leafWeights[l])
        }
        if anyMember { forest.memberStart.append(Int32(forest.memberValues.count)) }
        // Branch nodes have no weights: their ranges are empty, starting where the leaves' begin.
        forest.weightStart = [Int32](repeating: 0, count: count) + forest.weightStart + [Int32(leaves)]
        forest.roots = roots.map { Int32($0) }
        try forest.checkAcyclic(count: count + leaves, fail: fail)

        let aggregates: [Int: FlatForest.Aggregate] = [0: .average, 1: .sum, 2: .min, 3: .max]
        let transforms: [Int: PostTransform] = [0: .none, 1: .softmax, 2: .logistic, 3: .softmaxZero, 4: .probit]
        let aggregateCode = try node.int("aggregate_function", default: 1), transformCode = try node.int("post_transform", default: 0)
        guard let aggregate = aggregates[aggregateCode] else { throw fail("aggregate_function \(aggregateCode) is not 0 (AVERAGE) to 3 (MAX)") }
        guard let transform = transforms[transformCode] else { throw fail("post_transform \(transformCode) is not 0 (NONE) to 4 (PROBIT)") }
        return TreeEnsembleKernels.regression(forest, aggregate: aggregate, base: [], transform: transform)
    }
}
