import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// TreeEnsemble (ai.onnx.ml opset 5) on hand-built nodes: leaves addressed apart from branches, BRANCH_MEMBER sets,
/// integer-coded aggregates and transforms, and every malformed node refused at load with its reason. The ONNX
/// project's own cases run in `make test` (Scripts/conformance-ml.sh).
@Suite struct TreeEnsembleTests {
    /// Root 0: x0 ≤ 3 → node 1, else leaf 2 (target 1, weight 100). Node 1: x0 ∈ {1, 2.5} → leaf 0 (target 0, 1),
    /// else leaf 1 (target 0, 10).
    func attributes(modes: [Int64] = [0, 6], members: [Float] = [1, 2.5, .nan], aggregate: Int = 1, transform: Int = 0) -> [String: AttributeValue] {
        [
            "n_targets": .int(2), "aggregate_function": .int(aggregate), "post_transform": .int(transform), "tree_roots": .ints([0]),
            "nodes_featureids": .ints([0, 0]), "nodes_splits": .tensor(Tensor(shape: [2], floats: [3, 0])),
            "nodes_modes": .tensor(Tensor(shape: [2], int64s: modes)),
            "nodes_truenodeids": .ints([1, 0]), "nodes_trueleafs": .ints([0, 1]), "nodes_falsenodeids": .ints([2, 1]), "nodes_falseleafs": .ints([1, 1]),
            "leaf_targetids": .ints([0, 0, 1]), "leaf_weights": .tensor(Tensor(shape: [3], floats: [1, 10, 100])),
            "membership_values": .tensor(Tensor(shape: [members.count], floats: members)),
        ]
    }

    func node(_ attributes: [String: AttributeValue]) -> Node {
        Node(name: "t", opType: "TreeEnsemble", inputs: ["x"], outputs: ["y"], attributes: attributes, domain: MLOperators.domain)
    }

    func run(_ attributes: [String: AttributeValue], _ rows: [Float]) throws -> [Float] {
        let kernel = try #require(try MLOperators.kernel(for: node(attributes)))
        return try kernel(node(attributes), [Tensor(shape: [rows.count, 1], floats: rows)])[0].floats("y")
    }

    func loadError(_ attributes: [String: AttributeValue]) -> String? {
        do { _ = try MLOperators.kernel(for: node(attributes)); return nil } catch { return error.message }
    }

    @Test func membershipLeavesAndTargets() throws {
        #expect(try run(attributes(), [1, 2, 2.5, 7, .nan]) == [1, 0, 10, 0, 1, 0, 0, 100, 0, 100])
        // AVERAGE over one tree is the sum; MAX keeps the weight.
        #expect(try run(attributes(aggregate: 0), [1]) == [1, 0])
        #expect(try run(attributes(aggregate: 3), [7]) == [0, 100])
        // LOGISTIC on two targets.
        let logistic = try run(attributes(transform: 2), [1])
        #expect(abs(logistic[0] - 0.7310586) < 1e-6 && abs(logistic[1] - 0.5) < 1e-6)
    }

    @Test func malformedNodesAreRefusedAtLoad() {
        var cases: [(String, [String: AttributeValue], String)] = [
            ("mode 7", attributes(modes: [0, 7]), "node 1 has mode 7; modes are 0 (LEQ) to 6 (MEMBER)"),
            ("no set for a member node", attributes(modes: [6, 6], members: [1, .nan]), "no set left for it"),
            ("aggregate 9", attributes(aggregate: 9), "aggregate_function 9 is not 0 (AVERAGE) to 3 (MAX)"),
            ("transform 5", attributes(transform: 5), "post_transform 5 is not 0 (NONE) to 4 (PROBIT)"),
        ]
        var a = attributes(); a["nodes_falsenodeids"] = .ints([5, 1]); a["nodes_falseleafs"] = .ints([1, 1])
        cases.append(("leaf out of range", a, "node 0 points to leaf 5, outside the 3 leaves"))
        a = attributes(); a["nodes_truenodeids"] = .ints([0, 0]); a["nodes_trueleafs"] = .ints([0, 1])
        cases.append(("cycle", a, "cycle"))
        a = attributes(); a["leaf_targetids"] = .ints([0, 0, 2])
        cases.append(("target out of range", a, "leaf 2 is for target 2, outside the 2"))
        a = attributes(); a["nodes_splits"] = .tensor(Tensor(shape: [1], floats: [3]))
        cases.append(("short list", a, "nodes_splits has 1 entries"))
        a = attributes(); a["tree_roots"] = .ints([4])
        cases.append(("root out of range", a, "tree_roots must name nodes"))
        for (what, attributes, message) in cases {
            let error = loadError(attributes)
            #expect(error?.contains(message) == true, "\(what): \(error ?? "loaded")")
        }
    }

    @Test func aRowNarrowerThanTheFeaturesReadIsA400() throws {
        var a = attributes()
        a["nodes_featureids"] = .ints([0, 3])
        #expect(throws: HedgerowError.self) { try run(a, [1]) }
    }
}
