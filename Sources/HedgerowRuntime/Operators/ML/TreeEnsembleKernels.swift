import HedgerowCore

/// TreeEnsembleClassifier and TreeEnsembleRegressor over a `FlatForest`, finishing scores the way onnxruntime does
/// (base values, averaging, the binary cases and their `post_transform`), so that a model exported by skl2onnx or
/// onnxmltools answers here what it answers there.
enum TreeEnsembleKernels {
    /// Outputs: Y, the label of each row ([N], int64 or strings), and Z, the class scores ([N, C], float).
    static func classifier(_ node: Node) throws(HedgerowError) -> Kernel {
        let labels = try MLOperators.classLabels(node)
        guard labels.count >= 2 else {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (TreeEnsembleClassifier) declares \(labels.count) class; a classifier needs at least 2")
        }
        let forest = try FlatForest(node, weights: "class", targets: labels.count)
        let walk = ForestWalk(forest)
        let base = try node.floats("base_values") ?? []
        let transform = try PostTransform(node)
        let classIds = Set(try node.ints("class_ids") ?? [])
        // One class of two carries every weight: the score is that class's, and the label a threshold on it.
        let binary = labels.count == 2 && classIds.count == 1
        let allPositive = !forest.weightValue.contains { $0 < 0 }
        let c = labels.count
        return { node, args throws(HedgerowError) in
            let x = try MLOperators.rows(try Operators.input(args, 0, of: node), of: node)
            var (scores, present) = try walk.accumulate(x, aggregate: .sum, node: node)
            var y = [Int64](repeating: 0, count: x.rows)
            var z = [Float](repeating: 0, count: x.rows * c)
            for r in 0..<x.rows {
                let at = r * c
                if c > 2 {
                    for k in 0..<min(base.count, c) {
                        scores[at + k] = present[at + k] ? scores[at + k] + base[k] : base[k]
                        present[at + k] = true
                    }
                    var best = -1
                    for k in 0..<c where present[at + k] && (best < 0 || scores[at + k] > scores[at + best]) { best = k }
                    y[r] = labels[max(best, 0)]
                    for k in 0..<c { z[at + k] = present[at + k] ? scores[at + k] : 0 }
                    var row = z[at..<(at + c)]
                    transform.apply(&row)
                    z[at..<(at + c)] = row
                    continue
                }
                // Two classes.
                var s0 = scores[at], s1 = scores[at + 1]
                let h0 = present[at], h1 = present[at + 1]
                var two = true
                var written = -1
                switch base.count {
                case 2:
                    if h1 {
                        s1 = base[1] + s0
                        s0 = -s1
                    } else {
                        s1 += base[1]
                        s0 += base[0]
                    }
                case 1:
                    s0 += base[0]
                    if !h1 { two = false }
                case 0:
                    written = 3
                    if !h1 { two = false }
                default:
                    break
                }
                let positive = two && h1 ? s1 : (h0 ? s0 : 0)
                if binary {
                    if allPositive {
                        (y[r], written) = positive > 0.5 ? (labels[1], 0) : (labels[0], 1)
                    } else {
                        (y[r], written) = positive > 0 ? (labels[1], 2) : (labels[0], 3)
                    }
                } else {
                    y[r] = positive > 0 ? 1 : 0
                }
                if two {
                    z[at] = h0 || base.count == 2 ? s0 : 0
                    z[at + 1] = h1 ? s1 : 0
                    var row = z[at..<(at + 2)]
                    transform.apply(&row)
                    z[at..<(at + 2)] = row
                } else {
                    let s = s0
                    switch (transform, written) {
                    case (.probit, _): z[at] = PostTransform.probit(s)
                    case (_, 0), (_, 1): (z[at], z[at + 1]) = (1 - s, s)
                    case (.logistic, 2), (.logistic, 3): (z[at], z[at + 1]) = (PostTransform.logistic(-s), PostTransform.logistic(s))
                    case (_, 2), (_, 3): (z[at], z[at + 1]) = (-s, s)
                    default: z[at] = s
                    }
                }
            }
            return [labels.output(y), Tensor(shape: [x.rows, c], floats: z)]
        }
    }

    /// Output: Y, [N, n_targets] (float).
    static func regressor(_ node: Node) throws(HedgerowError) -> Kernel {
        let targets = try node.int("n_targets", default: 0)
        guard (1...1_000_000).contains(targets) else {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (TreeEnsembleRegressor): n_targets must be from 1 to 1,000,000, got \(targets)")
        }
        let forest = try FlatForest(node, weights: "target", targets: targets)
        let name = try node.string("aggregate_function", default: "SUM")
        guard let aggregate = FlatForest.Aggregate(rawValue: name) else {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (TreeEnsembleRegressor): unknown aggregate_function '\(name.prefix(40))' (SUM, AVERAGE, MIN or MAX)")
        }
        return regression(forest, aggregate: aggregate, base: try node.floats("base_values") ?? [], transform: try PostTransform(node))
    }

    /// A regressor's finishing, shared by TreeEnsembleRegressor and TreeEnsemble: the aggregate of the trees'
    /// weights (averaged over the trees for AVERAGE), the base values added, the transform applied per row
    /// (onnxruntime applies only PROBIT to a single target). Output: Y, [N, targets] (float).
    static func regression(_ forest: FlatForest, aggregate: FlatForest.Aggregate, base: [Float], transform: PostTransform) -> Kernel {
        let trees = Float(forest.roots.count)
        let targets = forest.targets
        let walk = ForestWalk(forest)
        return { node, args throws(HedgerowError) in
            let x = try MLOperators.rows(try Operators.input(args, 0, of: node), of: node)
            var (scores, present) = try walk.accumulate(x, aggregate: aggregate, node: node)
            for r in 0..<x.rows {
                let at = r * targets
                if targets == 1 {
                    let origin = base.count == 1 ? base[0] : 0
                    var s = scores[at]
                    switch aggregate {
                    case .sum: s += origin
                    case .average: s = s / trees + origin
                    case .min, .max: s = present[at] ? s + origin : origin
                    }
                    scores[at] = transform == .probit ? PostTransform.probit(s) : s
                    continue
                }
                let useBase = base.count == targets
                for j in 0..<targets {
                    let b = useBase ? base[j] : 0
                    switch aggregate {
                    case .sum: scores[at + j] += b
                    case .average: scores[at + j] = scores[at + j] / trees + b
                    case .min, .max: scores[at + j] = b + (present[at + j] ? scores[at + j] : 0)
                    }
                }
                var row = scores[at..<(at + targets)]
                transform.apply(&row)
                scores[at..<(at + targets)] = row
            }
            return [Tensor(shape: [x.rows, targets], floats: scores)]
        }
    }
}
