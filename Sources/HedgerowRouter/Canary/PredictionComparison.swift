import HedgerowCore

/// How a candidate version's answer to a request compares with the stable version's answer to the same request:
/// the measure a mirrored canary is judged by (issue 15). Pure: two answer bodies in, figures out.
///
/// Both answers are read with the bounded `JSONReader`. Outputs are taken from a KServe v2 answer
/// (`outputs: [{name, shape, data}]`) or a TensorFlow Serving one (`predictions`: rows; `outputs`: one tensor or an
/// object of named tensors), and compared by name. For each output: the largest absolute difference, the relative
/// L2 distance `‖c − s‖ / ‖s‖`, and how many elements are out of tolerance (`|c − s| > atol + rtol·|s|`); for an
/// output of class scores (2-D, one row per request row) whether each row's top-1 class agrees.
///
/// Cost is linear in the answers' size; the router runs it off its event loops (`CanaryMirror`).
enum PredictionComparison {
    typealias Tolerance = CanaryPolicy.Tolerance

    struct OutputComparison: Equatable, Sendable, Encodable {
        var name: String
        var elements: Int
        var maxAbsDifference: Double
        var relativeL2: Double
        var outOfTolerance: Int
        /// Rows of a 2-D output and how many of them agree on the top-1 class; nil for other shapes.
        var rows: Int?
        var top1Agreements: Int?
    }

    enum Outcome: Equatable, Sendable {
        case compared([OutputComparison])
        /// The candidate answered with an error status (the stable one did not).
        case candidateFailed(status: Int)
        /// The answers cannot be compared: different output names or shapes, or not an answer body at all.
        case incomparable(String)
    }

    static func compare(stable: [UInt8], candidate: [UInt8], candidateStatus: Int, tolerance: Tolerance) -> Outcome {
        guard (200..<300).contains(candidateStatus) else { return .candidateFailed(status: candidateStatus) }
        let stableOutputs: [String: JSONNode.Flattened], candidateOutputs: [String: JSONNode.Flattened]
        switch (outputs(of: stable), outputs(of: candidate)) {
        case (.success(let s), .success(let c)): (stableOutputs, candidateOutputs) = (s, c)
        case (.failure(let problem), _): return .incomparable("stable answer: \(problem.message)")
        case (_, .failure(let problem)): return .incomparable("candidate answer: \(problem.message)")
        }
        guard Set(stableOutputs.keys) == Set(candidateOutputs.keys) else {
            return .incomparable("outputs differ: stable \(stableOutputs.keys.sorted()), candidate \(candidateOutputs.keys.sorted())")
        }
        var results: [OutputComparison] = []
        for name in stableOutputs.keys.sorted() {
            guard let s = stableOutputs[name], let c = candidateOutputs[name] else { continue }
            guard s.shape == c.shape, s.values.count == c.values.count else {
                return .incomparable("output '\(name)': shapes \(s.shape) and \(c.shape)")
            }
            results.append(compare(name: name, s, c, tolerance: tolerance))
        }
        return .compared(results)
    }

    static func compare(name: String, _ s: JSONNode.Flattened, _ c: JSONNode.Flattened, tolerance: Tolerance) -> OutputComparison {
        var maxAbs = 0.0, squaredDifference = 0.0, squaredStable = 0.0, out = 0
        for (want, got) in zip(s.values, c.values) {
            let difference = abs(got - want)
            maxAbs = max(maxAbs, difference)
            squaredDifference += difference * difference
            squaredStable += want * want
            if !(difference <= tolerance.atol + tolerance.rtol * abs(want)) { out += 1 }
        }
        let relativeL2 = squaredStable > 0 ? (squaredDifference / squaredStable).squareRoot() : squaredDifference.squareRoot()
        var result = OutputComparison(name: name, elements: s.values.count, maxAbsDifference: maxAbs, relativeL2: relativeL2, outOfTolerance: out)
        if s.shape.count == 2, s.shape[0] > 0, s.shape[1] > 1 {
            let classes = s.shape[1]
            var agree = 0
            for row in 0..<s.shape[0] {
                let range = row * classes..<(row + 1) * classes
                if argmax(s.values[range]) == argmax(c.values[range]) { agree += 1 }
            }
            result.rows = s.shape[0]
            result.top1Agreements = agree
        }
        return result
    }

    private static func argmax(_ values: ArraySlice<Double>) -> Int? {
        values.indices.max { values[$0] < values[$1] }
    }

    struct Problem: Error {
        var message: String
    }

    /// An answer's outputs by name. TF Serving's `predictions` is named "predictions", and an unnamed `outputs`
    /// tensor "outputs".
    static func outputs(of body: [UInt8]) -> Result<[String: JSONNode.Flattened], Problem> {
        let root: JSONNode
        do { root = try body.withUnsafeBytes { try JSONReader.parse($0) } } catch {
            return .failure(Problem(message: "not JSON: \((error as? JSONReader.Failure)?.message ?? "\(error)")"))
        }
        func flat(_ node: JSONNode, _ name: String) -> Result<JSONNode.Flattened, Problem> {
            do { return .success(try node.flattened(maxDepth: 32)) } catch {
                return .failure(Problem(message: "output '\(name)' is not a tensor of numbers"))
            }
        }
        var result: [String: JSONNode.Flattened] = [:]
        if let list = root["outputs"]?.elements, root["model_name"] != nil || list.allSatisfy({ $0["name"] != nil }) {
            // KServe v2: flat data and a shape.
            for output in list {
                guard case .string(let name)? = output["name"], let data = output["data"], let shapeNode = output["shape"] else {
                    return .failure(Problem(message: "a KServe v2 output without name, shape and data"))
                }
                guard case .success(var values) = flat(data, name), case .success(let shape) = flat(shapeNode, name),
                      shape.shape.count == 1, shape.values.allSatisfy({ $0 >= 0 && $0 <= 1e12 && $0.rounded() == $0 }) else {
                    return .failure(Problem(message: "output '\(name)': data or shape is not numbers"))
                }
                let dims = shape.values.map { Int($0) }
                var count = 1
                for d in dims {
                    let (product, overflow) = count.multipliedReportingOverflow(by: d)
                    guard !overflow else { return .failure(Problem(message: "output '\(name)': shape \(dims) overflows")) }
                    count = product
                }
                guard count == values.values.count else {
                    return .failure(Problem(message: "output '\(name)': shape \(dims) does not hold \(values.values.count) values"))
                }
                values.shape = dims
                result[name] = values
            }
        } else if let predictions = root["predictions"] {
            switch flat(predictions, "predictions") {
            case .success(let f): result["predictions"] = f
            case .failure(let p): return .failure(p)
            }
        } else if let outputs = root["outputs"] {
            if case .object(let members) = outputs {
                for (name, node) in members {
                    switch flat(node, name) {
                    case .success(let f): result[name] = f
                    case .failure(let p): return .failure(p)
                    }
                }
            } else {
                switch flat(outputs, "outputs") {
                case .success(let f): result["outputs"] = f
                case .failure(let p): return .failure(p)
                }
            }
        } else {
            return .failure(Problem(message: "no outputs or predictions"))
        }
        return .success(result)
    }
}

extension PredictionComparison.Outcome {
    /// The `result` label of `hedgerow_router_canary_comparisons_total`: `agree` (every element within tolerance),
    /// `out_of_tolerance` (some element out, every top-1 class the same), `top1_disagree`, `error`, `incomparable`.
    var result: String {
        switch self {
        case .compared(let outputs):
            if outputs.contains(where: { ($0.top1Agreements ?? 0) < ($0.rows ?? 0) }) { return "top1_disagree" }
            return outputs.contains(where: { $0.outOfTolerance > 0 }) ? "out_of_tolerance" : "agree"
        case .candidateFailed: return "error"
        case .incomparable: return "incomparable"
        }
    }

    /// The largest absolute difference over every output, when the answers were compared.
    var maxAbsDifference: Double? {
        guard case .compared(let outputs) = self else { return nil }
        return outputs.map(\.maxAbsDifference).max() ?? 0
    }
}

extension CanaryTally {
    /// Counts one sample.
    mutating func record(_ outcome: PredictionComparison.Outcome) {
        switch outcome {
        case .compared(let outputs):
            compared += 1
            for output in outputs {
                elements += output.elements
                outOfTolerance += output.outOfTolerance
                rows += output.rows ?? 0
                top1Disagreements += (output.rows ?? 0) - (output.top1Agreements ?? 0)
                if output.maxAbsDifference.isFinite { maxAbsDifference = max(maxAbsDifference, output.maxAbsDifference) }
            }
        case .candidateFailed: candidateErrors += 1
        case .incomparable: incomparable += 1
        }
    }
}
