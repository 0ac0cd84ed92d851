import HedgerowCore

/// LinearClassifier and LinearRegressor: scores = X·Wᵀ + intercepts, finished as onnxruntime does (the binary
/// case with one row of coefficients, the transforms it applies). Coefficients are checked against the input's
/// width at run.
enum LinearModels {
    /// Outputs: Y, the label of each row ([N], int64 or strings), and Z, the scores ([N, C], or [N, 2] for one row of
    /// coefficients and two labels).
    static func classifier(_ node: Node) throws(HedgerowError) -> Kernel {
        let labels = try MLOperators.classLabels(node, attribute: "classlabels_ints")
        let coefficients = try node.floats("coefficients") ?? []
        let intercepts = try node.floats("intercepts") ?? []
        let transform = try PostTransform(node)
        let classes = intercepts.count
        guard classes >= 1, !coefficients.isEmpty, coefficients.count % classes == 0 else {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (LinearClassifier): \(coefficients.count) coefficients do not split into \(classes) classes (one intercept per class)")
        }
        guard classes == 1 || classes == labels.count else {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (LinearClassifier): \(classes) rows of coefficients for \(labels.count) class labels")
        }
        let secondClass = classes == 1 && labels.count == 2
        if secondClass && transform == .probit {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (LinearClassifier): PROBIT with one row of coefficients is not supported")
        }
        let width = coefficients.count / classes
        let outputs = secondClass ? 2 : classes
        return { node, args throws(HedgerowError) in
            let x = try MLOperators.rows(try Operators.input(args, 0, of: node), of: node)
            guard x.features == width else {
                throw HedgerowError(.badRequest, "node '\(node.label)' (LinearClassifier): the model takes \(width) features per row, the input has \(x.features)")
            }
            var y = [Int64](repeating: 0, count: x.rows)
            var z = [Float](repeating: 0, count: x.rows * outputs)
            for r in 0..<x.rows {
                var scores = [Float](repeating: 0, count: classes)
                for k in 0..<classes {
                    var s = intercepts[k]
                    for f in 0..<width { s += x.values[r * width + f] * coefficients[k * width + f] }
                    scores[k] = s
                }
                let at = r * outputs
                if classes == 1 {
                    let s = scores[0]
                    y[r] = s > 0 ? (labels.count == 2 ? labels[1] : 1) : (labels.count == 2 ? labels[0] : 0)
                    if secondClass {
                        (z[at], z[at + 1]) = (1 - s, s)
                    } else {
                        z[at] = transform == .probit ? PostTransform.probit(s) : s
                    }
                    continue
                }
                var best = 0
                for k in 1..<classes where scores[k] > scores[best] { best = k }
                y[r] = labels[best]
                var row = scores[0...]
                transform.apply(&row)
                for k in 0..<classes { z[at + k] = row[k] }
            }
            return [labels.output(y), Tensor(shape: [x.rows, outputs], floats: z)]
        }
    }

    /// Output: Y, [N, targets].
    static func regressor(_ node: Node) throws(HedgerowError) -> Kernel {
        let targets = try node.int("targets", default: 1)
        let coefficients = try node.floats("coefficients") ?? []
        let intercepts = try node.floats("intercepts") ?? []
        let transform = try PostTransform(node)
        guard targets >= 1, !coefficients.isEmpty, coefficients.count % targets == 0 else {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (LinearRegressor): \(coefficients.count) coefficients do not split into \(targets) targets")
        }
        let width = coefficients.count / targets
        let useIntercepts = intercepts.count == targets
        return { node, args throws(HedgerowError) in
            let x = try MLOperators.rows(try Operators.input(args, 0, of: node), of: node)
            guard x.features == width else {
                throw HedgerowError(.badRequest, "node '\(node.label)' (LinearRegressor): the model takes \(width) features per row, the input has \(x.features)")
            }
            var out = [Float](repeating: 0, count: x.rows * targets)
            for r in 0..<x.rows {
                for t in 0..<targets {
                    var s = useIntercepts ? intercepts[t] : 0
                    for f in 0..<width { s += x.values[r * width + f] * coefficients[t * width + f] }
                    out[r * targets + t] = s
                }
                if targets == 1 {
                    if transform == .probit { out[r] = PostTransform.probit(out[r]) }
                } else {
                    var row = out[(r * targets)..<((r + 1) * targets)]
                    transform.apply(&row)
                    out[(r * targets)..<((r + 1) * targets)] = row
                }
            }
            return [Tensor(shape: [x.rows, targets], floats: out)]
        }
    }
}
