import Foundation
import HedgerowCore
import HedgerowRuntime
import Testing

/// The example models under Models/ against the outputs onnxruntime gave for the same inputs (reference.json,
/// written by each model's make_*.py): within 1e-4 relative (plus 1e-6 absolute for values near 0).
@Suite struct ExampleModelsTests {
    static let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Models")

    func reference(_ model: String) throws -> (graph: ModelGraph, inputs: [String: Any], outputs: [String: Any]) {
        let dir = Self.models.appendingPathComponent("\(model)/1")
        let graph = try ModelLoader.load(contentsOf: dir.appendingPathComponent("model.onnx").path)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("reference.json"))) as! [String: Any]
        return (graph, json["inputs"] as! [String: Any], json["outputs"] as! [String: Any])
    }

    /// Flattens nested JSON lists of numbers into values and a shape.
    func flatten(_ value: Any) -> (values: [Double], shape: [Int]) {
        if let list = value as? [Any] {
            var values: [Double] = []
            var inner: [Int] = []
            for element in list {
                let (v, s) = flatten(element)
                values += v
                inner = s
            }
            return (values, [list.count] + inner)
        }
        return ([(value as! NSNumber).doubleValue], [])
    }

    func expectClose(_ got: Tensor, _ want: Any, _ what: String) throws {
        let (values, shape) = flatten(want)
        #expect(got.shape == shape, "\(what): shape \(got.shape), onnxruntime \(shape)")
        let floats = try got.floats(what)
        for (i, (g, w)) in zip(floats, values).enumerated() {
            #expect(abs(Double(g) - w) <= 1e-4 * abs(w) + 1e-6, "\(what)[\(i)]: \(g), onnxruntime \(w)")
            if abs(Double(g) - w) > 1e-4 * abs(w) + 1e-6 { break }
        }
    }

    @Test func recommenderMatchesOnnxruntimeAndRefusesUnknownIds() throws {
        let (graph, inputs, outputs) = try reference("recommender")
        let users = flatten(inputs["user"]!).values.map { Int64($0) }, items = flatten(inputs["item"]!).values.map { Int64($0) }
        let result = try graph.run(["user": Tensor(shape: [users.count], int64s: users), "item": Tensor(shape: [items.count], int64s: items)])
        try expectClose(try #require(result["score"]), outputs["score"]!, "score")
        #expect(graph.weightBytes >= 2 * 100_000 * 32 * 4, "the embedding tables are smaller than the issue asks")
        #expect(throws: HedgerowError(.badRequest, "node 'user_lookup' (Gather): index 100000 is out of range for axis 0 of size 100000")) {
            try graph.run(["user": Tensor(shape: [1], int64s: [100_000]), "item": Tensor(shape: [1], int64s: [0])])
        }
    }

    @Test func encoderBlockMatchesOnnxruntime() throws {
        let (graph, inputs, outputs) = try reference("encoder")
        let (values, shape) = flatten(inputs["tokens"]!)
        let result = try graph.run(["tokens": Tensor(shape: shape, floats: values.map { Float($0) })])
        try expectClose(try #require(result["encoded"]), outputs["encoded"]!, "encoded")
        #expect(graph.opsetVersion == 20)
    }

    @Test func digitsCNNMatchesOnnxruntimeAndClassifies() throws {
        let (graph, inputs, outputs) = try reference("digits-cnn")
        let (values, shape) = flatten(inputs["images"]!)
        let result = try graph.run(["images": Tensor(shape: shape, floats: values.map { Float($0) })])
        let probabilities = try #require(result["probabilities"])
        try expectClose(probabilities, outputs["probabilities"]!, "probabilities")
        // Trained, not random: the 32 reference images are classified as labelled, bar at most one.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.models.appendingPathComponent("digits-cnn/1/reference.json"))) as! [String: Any]
        let labels = json["labels"] as! [Int]
        let floats = try probabilities.floats("probabilities")
        let predicted = (0..<labels.count).map { row in (0..<10).max { floats[row * 10 + $0] < floats[row * 10 + $1] }! }
        #expect(zip(predicted, labels).filter { $0 != $1 }.count <= 1, "predicted \(predicted), labels \(labels)")
        #expect((json["heldOutAccuracy"] as! Double) > 0.95)
    }

    /// NaN and ±Inf pixels (a binary client, or a model's own overflow) run without a trap, stay in their own row of a
    /// batch, and leave the other rows exactly as they are alone.
    @Test func nonFiniteInputsStayInTheirRow() throws {
        let (graph, inputs, _) = try reference("digits-cnn")
        let (values, _) = flatten(inputs["images"]!)
        let clean = Array(values.prefix(64).map { Float($0) })
        var poisoned = clean
        poisoned[5] = .nan
        poisoned[17] = .infinity
        poisoned[40] = -.infinity
        let alone = try graph.run(["images": Tensor(shape: [1, 1, 8, 8], floats: clean)])["probabilities"]!.floats("p")
        let both = try graph.run(["images": Tensor(shape: [2, 1, 8, 8], floats: poisoned + clean)])["probabilities"]!.floats("p")
        for (b, a) in zip(both[10..<20], alone) { #expect(abs(b - a) <= 1e-6 * max(1, abs(a))) }
        #expect(both[0..<10].contains { $0.isNaN }, "a NaN pixel gives NaN probabilities, not made-up numbers")
    }
}

/// The classic-ML examples (Scripts/make-classic-ml-models.py: skl2onnx and onnxmltools into ai.onnx.ml) against
/// onnxruntime's outputs for the same rows: labels exactly (integers or strings), scores within the tolerance their
/// reference.json gives. churn-pipeline takes string and float columns and answers string labels and ZipMap maps.
@Suite struct ClassicMLExampleModelsTests {
    static let models = ["iris-logreg", "iris-forest", "diabetes-gbr", "churn-pipeline", "iris-xgboost", "cancer-lightgbm"]

    /// A reference.json value as a tensor of `type` (strings kept as strings).
    static func tensor(_ value: Any, _ type: ElementType) -> Tensor {
        func walk(_ v: Any, _ depth: Int, _ shape: inout [Int], _ out: inout [Any]) {
            if let list = v as? [Any] {
                if shape.count == depth { shape.append(list.count) }
                for e in list { walk(e, depth + 1, &shape, &out) }
            } else {
                out.append(v)
            }
        }
        var shape: [Int] = [], flat: [Any] = []
        walk(value, 0, &shape, &flat)
        switch type {
        case .string: return Tensor(shape: shape, strings: flat.map { $0 as! String })
        case .int64: return Tensor(shape: shape, int64s: flat.map { ($0 as! NSNumber).int64Value })
        default: return Tensor(shape: shape, floats: flat.map { ($0 as! NSNumber).floatValue })
        }
    }

    @Test(arguments: models)
    func matchesOnnxruntime(_ model: String) throws {
        let dir = ExampleModelsTests.models.appendingPathComponent("\(model)/1")
        let graph = try ModelLoader.load(contentsOf: dir.appendingPathComponent("model.onnx").path)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("reference.json"))) as? [String: Any])
        let inputs = try #require(json["inputs"] as? [String: Any])
        var feeds: [String: Tensor] = [:]
        for signature in graph.inputs {
            feeds[signature.name] = Self.tensor(try #require(inputs[signature.name], "\(model): no rows for '\(signature.name)'"), signature.elementType)
        }
        let result = try graph.run(feeds)
        let outputs = try #require(json["outputs"] as? [String: Any])
        let helper = ExampleModelsTests()
        for (name, want) in outputs {
            let got = try #require(result[name], "\(model): no output '\(name)'")
            if case .string(let labels) = got.storage {
                #expect(labels == (want as? [String]), "\(model) \(name): \(labels.prefix(10)) against \(want)")
                continue
            }
            let (values, shape) = helper.flatten(want)
            #expect(got.shape == shape || (got.shape.count == 2 && got.shape[1] == 1 && [got.shape[0]] == shape) || (shape.count == 2 && shape[1] == 1 && got.shape == shape),
                    "\(model) \(name): shape \(got.shape), onnxruntime \(shape)")
            switch got.storage {
            case .int64(let labels):
                #expect(labels.map { Double($0) } == values, "\(model) \(name): \(labels.prefix(10)) against \(values.prefix(10))")
            default:
                let floats = try got.floats(name)
                var worst = 0.0
                for (g, w) in zip(floats, values) { worst = max(worst, abs(Double(g) - w) - 1e-4 * abs(w)) }
                #expect(worst <= 1e-5, "\(model) \(name): off by \(worst) beyond 1e-4 relative")
            }
        }
    }

    /// The ZipMap output is declared as maps: its signature carries the labels in column order.
    @Test func zipMapOutputCarriesItsLabels() throws {
        let graph = try ModelLoader.load(contentsOf: ExampleModelsTests.models.appendingPathComponent("churn-pipeline/1/model.onnx").path)
        let probabilities = try #require(graph.outputs.first { $0.name == "output_probability" })
        #expect(probabilities.mapKeys == ["churn", "stay"])
        #expect(probabilities.elementType == .float32 && probabilities.shape == [nil, 2])
        #expect(graph.outputs.first { $0.name == "output_label" }?.elementType == .string)
        #expect(graph.inputs.map(\.elementType) == [.string, .string, .float32, .float32])
    }
}
