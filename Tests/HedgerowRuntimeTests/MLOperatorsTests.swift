import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// The ai.onnx.ml kernels on hand-built nodes: tree walks (every branch mode, NaN with and without missing-value
/// tracking), the classifier's and regressor's finishing, and every malformed node refused at load or at run with
/// a message, never a trap. The exported examples are checked against onnxruntime in ExampleModelsTests.
@Suite struct MLOperatorsTests {
    func node(_ op: String, _ attributes: [String: AttributeValue]) -> Node {
        Node(name: "n", opType: op, inputs: [], outputs: ["y", "z"], attributes: attributes, domain: MLOperators.domain)
    }

    func run(_ op: String, _ attributes: [String: AttributeValue], _ inputs: [Tensor?]) throws -> [Tensor] {
        let built = try #require(try MLOperators.kernel(for: node(op, attributes)))
        return try built(node(op, attributes), inputs)
    }

    func loadError(_ op: String, _ attributes: [String: AttributeValue]) -> String? {
        do { _ = try MLOperators.kernel(for: node(op, attributes)); return nil } catch { return error.message }
    }

    /// One tree: node 0 splits feature 1 at 0.5 with `mode` (NaN tracks true when `tracks`); node 1 (true) is a leaf
    /// voting class 1, node 2 (false) a leaf voting class 0.
    func stump(mode: String = "BRANCH_LEQ", tracks: Bool = false, feature: Int = 1, post: String = "NONE", classIds: [Int] = [1, 0]) -> [String: AttributeValue] {
        [
            "nodes_treeids": .ints([0, 0, 0]), "nodes_nodeids": .ints([0, 1, 2]), "nodes_featureids": .ints([feature, 0, 0]),
            "nodes_values": .floats([0.5, 0, 0]), "nodes_modes": .strings([mode, "LEAF", "LEAF"]),
            "nodes_truenodeids": .ints([1, 0, 0]), "nodes_falsenodeids": .ints([2, 0, 0]),
            "nodes_missing_value_tracks_true": .ints([tracks ? 1 : 0, 0, 0]),
            "class_treeids": .ints([0, 0]), "class_nodeids": .ints([1, 2]), "class_ids": .ints(classIds), "class_weights": .floats([1, 1]),
            "classlabels_int64s": .ints([10, 20, 30]), "post_transform": .string(post),
        ]
    }

    @Test func eachBranchModeAndMissingValuesFollowOnnxruntime() throws {
        let rows = Tensor(shape: [4, 2], floats: [0, 0.2, 0, 0.5, 0, 0.9, 0, .nan])
        func labels(_ attributes: [String: AttributeValue]) throws -> [Int64] { try run("TreeEnsembleClassifier", attributes, [rows])[0].int64s("y") }
        #expect(try labels(stump(mode: "BRANCH_LEQ")) == [20, 20, 10, 10])
        #expect(try labels(stump(mode: "BRANCH_LT")) == [20, 10, 10, 10])
        #expect(try labels(stump(mode: "BRANCH_GTE")) == [10, 20, 20, 10])
        #expect(try labels(stump(mode: "BRANCH_GT")) == [10, 10, 20, 10])
        #expect(try labels(stump(mode: "BRANCH_EQ")) == [10, 20, 10, 10])
        // NaN != 0.5 is true: NEQ sends a missing value to the true branch even without tracking.
        #expect(try labels(stump(mode: "BRANCH_NEQ")) == [20, 10, 20, 20])
        #expect(try labels(stump(mode: "BRANCH_LEQ", tracks: true)) == [20, 20, 10, 20])
        let z = try run("TreeEnsembleClassifier", stump(post: "SOFTMAX"), [rows])[1]
        #expect(z.shape == [4, 3])
        let first = try z.floats("z")[0..<3].map { Double($0) }
        // Classes 0 (from the leaf) and 1 score; class 2 never does and is written as 0 before the softmax.
        #expect(abs(first[0] - 0.2119) < 1e-3 && abs(first[1] - 0.5761) < 1e-3 && abs(first[2] - 0.2119) < 1e-3, "\(first)")
    }

    @Test func aRegressorSumsAveragesAndAddsItsBase() throws {
        var attributes = stump()
        for key in ["class_treeids", "class_nodeids", "class_ids", "class_weights", "classlabels_int64s"] { attributes[key] = nil }
        attributes["target_treeids"] = .ints([0, 0])
        attributes["target_nodeids"] = .ints([1, 2])
        attributes["target_ids"] = .ints([0, 0])
        attributes["target_weights"] = .floats([3, 5])
        attributes["n_targets"] = .int(1)
        attributes["base_values"] = .floats([100])
        let rows = Tensor(shape: [2, 2], floats: [0, 0.2, 0, 0.9])
        #expect(try run("TreeEnsembleRegressor", attributes, [rows])[0].floats("y") == [103, 105])
        attributes["aggregate_function"] = .string("AVERAGE")
        #expect(try run("TreeEnsembleRegressor", attributes, [rows])[0].floats("y") == [103, 105])
        attributes["aggregate_function"] = .string("MEDIAN")
        #expect(loadError("TreeEnsembleRegressor", attributes)?.contains("unknown aggregate_function 'MEDIAN'") == true)
    }

    @Test func malformedEnsemblesAreRefusedAtLoadWithTheReason() {
        var cycle = stump()
        cycle["nodes_modes"] = .strings(["BRANCH_LEQ", "BRANCH_LEQ", "LEAF"])
        cycle["nodes_truenodeids"] = .ints([1, 0, 0])
        cycle["nodes_falsenodeids"] = .ints([2, 2, 0])
        cycle["class_nodeids"] = .ints([2, 2])
        let cases: [(String, [String: AttributeValue], String)] = [
            ("unknown post_transform", { var a = stump(); a["post_transform"] = .string("CUBE"); return a }(), "unknown post_transform 'CUBE'"),
            ("unknown mode", stump(mode: "BRANCH_SOMETIMES"), "unknown mode 'BRANCH_SOMETIMES'"),
            ("class out of range", stump(classIds: [1, 3]), "a weight is for class 3, outside the 3 the node declares"),
            ("negative feature", stump(feature: -1), "reads feature -1"),
            ("child outside the tree", { var a = stump(); a["nodes_truenodeids"] = .ints([7, 0, 0]); return a }(), "points to a node its tree does not have"),
            ("lists of different lengths", { var a = stump(); a["nodes_values"] = .floats([0.5]); return a }(), "nodes_values has 1 entries"),
            ("a cycle", cycle, "cycle"),
            ("both kinds of labels", { var a = stump(); a["classlabels_strings"] = .strings(["a", "b", "c"]); return a }(), "has both classlabels_strings and classlabels_int64s"),
            ("no labels", { var a = stump(); a["classlabels_int64s"] = nil; return a }(), "has no class labels"),
            ("duplicate node", { var a = stump(); a["nodes_nodeids"] = .ints([0, 1, 1]); return a }(), "has node 1 twice"),
        ]
        for (what, attributes, message) in cases {
            let error = loadError("TreeEnsembleClassifier", attributes)
            #expect(error?.contains(message) == true, "\(what): \(error ?? "loaded")")
        }
    }

    /// String labels: the kernels compute with positions, and Y names the class (as onnxruntime answers).
    @Test func stringClassLabelsAreAnsweredAsStrings() throws {
        var attributes = stump()
        attributes["classlabels_int64s"] = nil
        attributes["classlabels_strings"] = .strings(["setosa", "versicolor", "virginica"])
        let rows = Tensor(shape: [2, 2], floats: [0, 0.2, 0, 0.9])
        let out = try run("TreeEnsembleClassifier", attributes, [rows])
        #expect(try out[0].strings("y") == ["versicolor", "setosa"])
        #expect(out[0].shape == [2])
        let linear: [String: AttributeValue] = ["coefficients": .floats([1, 0, 0, 1]), "intercepts": .floats([0, 0]), "classlabels_strings": .strings(["no", "yes"])]
        #expect(try run("LinearClassifier", linear, [Tensor(shape: [2, 2], floats: [3, 1, 0, 2])])[0].strings("y") == ["no", "yes"])
    }

    @Test func inputsTheModelCannotReadAre400s() throws {
        let narrow = Tensor(shape: [1, 1], floats: [0])
        #expect(throws: HedgerowError(.badRequest, "node 'n' (TreeEnsembleClassifier): the model reads feature 1, but the input has 1 features per row")) {
            try run("TreeEnsembleClassifier", stump(), [narrow])
        }
        #expect(throws: HedgerowError.self) { try run("TreeEnsembleClassifier", stump(), [Tensor(shape: [1, 2, 2], floats: [0, 0, 0, 0])]) }
        let linear: [String: AttributeValue] = ["coefficients": .floats([1, 2, 3, 4]), "intercepts": .floats([0, 1]), "classlabels_ints": .ints([5, 6])]
        #expect(throws: HedgerowError.self) { try run("LinearClassifier", linear, [Tensor(shape: [1, 3], floats: [0, 0, 0])]) }
        #expect(throws: HedgerowError.self) { try run("Binarizer", ["threshold": .float(0.5)], [Tensor(shape: [1, 2], floats: [0, .nan])]) }
        #expect(throws: HedgerowError.self) {
            try run("ArrayFeatureExtractor", [:], [Tensor(shape: [1, 2], floats: [0, 1]), Tensor(shape: [1], int64s: [2])])
        }
    }

    @Test func linearModelsAndPreprocessingCompute() throws {
        let linear: [String: AttributeValue] = ["coefficients": .floats([1, 0, 0, 1]), "intercepts": .floats([0, 0.5]), "classlabels_ints": .ints([5, 6])]
        let out = try run("LinearClassifier", linear, [Tensor(shape: [2, 2], floats: [2, 1, 0, 0])])
        #expect(try out[0].int64s("y") == [5, 6] && out[1].floats("z") == [2, 1.5, 0, 0.5])
        let scaled = try run("Scaler", ["offset": .floats([1, 2]), "scale": .floats([2, 0.5])], [Tensor(shape: [1, 2], floats: [3, 4])])
        #expect(try scaled[0].floats("y") == [4, 1])
        let normalized = try run("Normalizer", ["norm": .string("L1")], [Tensor(shape: [2, 2], floats: [1, -3, 0, 0])])
        #expect(try normalized[0].floats("y") == [0.25, -0.75, 0, 0])
        let imputed = try run("Imputer", ["imputed_value_floats": .floats([7, 8])], [Tensor(shape: [2, 2], floats: [.nan, 1, 2, .nan])])
        #expect(try imputed[0].floats("y") == [7, 1, 2, 8])
        let picked = try run("ArrayFeatureExtractor", [:], [Tensor(shape: [2, 3], floats: [0, 1, 2, 3, 4, 5]), Tensor(shape: [2], int64s: [2, 0])])
        #expect(try picked[0].shape == [2, 2] && picked[0].floats("y") == [2, 0, 5, 3])
    }
}
