import Foundation
import HedgerowRuntime
import Testing
@testable import HedgerowWorker

@Suite struct GoldenOutputsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let models = root.appendingPathComponent("Models")

    static func graph(_ model: String) throws -> ModelGraph {
        try ModelLoader.load(contentsOf: models.appendingPathComponent("\(model)/1/model.onnx").path)
    }

    static func reference(_ model: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: models.appendingPathComponent("\(model)/1/reference.json"))) as! [String: Any]
    }

    static func data(_ object: [String: Any]) throws -> Data { try JSONSerialization.data(withJSONObject: object) }

    /// Every example model passes its own reference.json, as a batch and row by row: the gate lets good versions in.
    @Test(arguments: ["digits", "digits-cnn", "encoder", "recommender"])
    func theExampleModelsPassTheirReferences(_ model: String) throws {
        let graph = try Self.graph(model)
        let golden = try GoldenOutputs.load(contentsOf: Self.models.appendingPathComponent("\(model)/1/reference.json").path, for: graph)
        #expect(golden.disagreement(with: try graph.run(golden.inputs)) == nil)
        let row = try #require(golden.firstRow())
        #expect(row.inputs.values.allSatisfy { $0.shape.first == 1 })
        #expect(row.disagreement(with: try graph.run(row.inputs)) == nil)
    }

    @Test func oneWrongValueIsNamedWithItsIndex() throws {
        var reference = try Self.reference("digits")
        var outputs = reference["outputs"] as! [String: Any]
        var probabilities = outputs["probabilities"] as! [[Double]]
        let right = probabilities[3][7]
        probabilities[3][7] = 0.71
        outputs["probabilities"] = probabilities
        reference["outputs"] = outputs
        let graph = try Self.graph("digits")
        let golden = try GoldenOutputs.parse(try Self.data(reference), for: graph)
        let problem = try #require(golden.disagreement(with: try graph.run(golden.inputs)))
        #expect(problem.hasPrefix("probabilities[3][7]: got "), "\(problem)")
        #expect(problem.contains("want 0.71 (tolerance 0.00081"), "\(problem)")
        #expect(abs(Double(problem.split(separator: " ")[2].dropLast()) ?? 0 - right) < 1e-4, "\(problem)")
    }

    @Test func accuracyBelowTheMinimumFails() throws {
        var reference = try Self.reference("digits")
        let graph = try Self.graph("digits")
        reference["minAccuracy"] = 0.95
        #expect(try GoldenOutputs.parse(try Self.data(reference), for: graph).disagreement(with: try graph.run(GoldenOutputs.parse(try Self.data(reference), for: graph).inputs)) == nil)
        reference["minAccuracy"] = 1.0
        let strict = try GoldenOutputs.parse(try Self.data(reference), for: graph)
        let problem = try #require(strict.disagreement(with: try graph.run(strict.inputs)))
        #expect(problem.hasPrefix("accuracy 0.986"), "\(problem)")
        #expect(problem.contains("on 360 labelled rows of 'probabilities', below the minimum 1"), "\(problem)")
    }

    @Test func toleranceIsTheFilesOrTheDefault() throws {
        var reference = try Self.reference("digits")
        let graph = try Self.graph("digits")
        #expect(try GoldenOutputs.parse(try Self.data(reference), for: graph).tolerance == .init(atol: 1e-4, rtol: 1e-3))
        reference["tolerance"] = ["atol": 0.5]
        var outputs = reference["outputs"] as! [String: Any]
        var probabilities = outputs["probabilities"] as! [[Double]]
        probabilities[0][0] += 0.3
        outputs["probabilities"] = probabilities
        reference["outputs"] = outputs
        let loose = try GoldenOutputs.parse(try Self.data(reference), for: graph)
        #expect(loose.tolerance == .init(atol: 0.5, rtol: 1e-3))
        #expect(loose.disagreement(with: try graph.run(loose.inputs)) == nil)
    }

    /// The file is hostile like a model: every problem is a load failure naming what is wrong, never a trap.
    @Test func brokenReferencesAreRefusedWithAReason() throws {
        let graph = try Self.graph("digits")
        let cases: [(String, String)] = [
            ("{not json", "reference.json: not JSON"),
            (#"{"outputs": {}}"#, #"expected an object with "inputs" and "outputs""#),
            (#"{"inputs": {}, "outputs": {"probabilities": [[1]]}}"#, "no value for the model's input 'input'"),
            (#"{"inputs": {"input": [[1, 2]]}, "outputs": {"probabilities": [[1]]}}"#, "input 'input'"),
            (#"{"inputs": {"input": [[1, 2], [3]]}, "outputs": {"probabilities": [[1]]}}"#, "ragged"),
            (#"{"inputs": {"input": [[\#(Array(repeating: "0", count: 64).joined(separator: ","))]]}, "outputs": {"logits": [[1]]}}"#, "names none of the model's outputs"),
            (#"{"inputs": {"input": [[\#(Array(repeating: "0", count: 64).joined(separator: ","))]]}, "outputs": {"probabilities": [[1]]}, "tolerance": {"atol": -1}}"#, "tolerance.atol must be a number ≥ 0"),
            (#"{"inputs": {"input": [[\#(Array(repeating: "0", count: 64).joined(separator: ","))]]}, "outputs": {"probabilities": [[1]]}, "minAccuracy": 0.5}"#, "minAccuracy needs labels"),
            (#"{"inputs": {"input": [[\#(Array(repeating: "0", count: 64).joined(separator: ","))]]}, "outputs": {"probabilities": [[1]]}, "labels": [-1]}"#, "labels must be a list of class indices"),
            (String(repeating: "[", count: 100_000), "reference.json: not JSON"),
        ]
        for (text, message) in cases {
            do {
                _ = try GoldenOutputs.parse(Data(text.utf8), for: graph)
                Issue.record("accepted: \(text.prefix(80))")
            } catch {
                #expect(error.message.contains(message), "\(error.message) for \(text.prefix(80))")
                #expect(error.message.hasPrefix("reference.json: "))
            }
        }
    }

    @Test func outputsOfAnotherShapeAreNamed() throws {
        let graph = try Self.graph("digits")
        let row = Array(repeating: "0", count: 64).joined(separator: ",")
        let golden = try GoldenOutputs.parse(Data(#"{"inputs": {"input": [[\#(row)]]}, "outputs": {"probabilities": [1, 2]}}"#.utf8), for: graph)
        #expect(golden.disagreement(with: try graph.run(golden.inputs)) == "output 'probabilities': got shape [1, 10], want [2]")
    }

    @Test func flatIndicesReadAsNestedOnes() {
        #expect(GoldenOutputs.index(37, in: [4, 10]) == "[3][7]")
        #expect(GoldenOutputs.index(0, in: [1]) == "[0]")
        #expect(GoldenOutputs.index(23, in: [2, 3, 4]) == "[1][2][3]")
        #expect(GoldenOutputs.index(0, in: []) == "")
    }
}
