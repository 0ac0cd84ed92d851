import Foundation
import HedgerowCore
import HedgerowRuntime
import Testing
@testable import HedgerowWorker

/// The codecs on a model with string inputs, string labels and ZipMap's maps (Models/churn-pipeline): BYTES in and
/// out of KServe v2, JSON strings and one object per row in TF Serving, the maps' labels in v2 metadata, the
/// golden-output gate comparing strings exactly, and text where numbers go (or the reverse) refused by name.
@Suite struct ClassicMLCodecTests {
    static let graph: ModelGraph = try! GoldenOutputsTests.graph("churn-pipeline")
    static let id = ModelVersionID(model: try! ModelName("churn"), version: try! ModelVersion(1))
    static let row = #"{"plan": [["premium"]], "region": [["south"]], "tenure": [[3.5]], "monthly": [[80]]}"#

    func answer(_ json: String, _ api: InferenceCodecs.API) throws -> [String: Any] {
        let text = try InferenceCodecs.answer(Data(json.utf8), api: api, model: Self.id, graph: Self.graph)
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func kserveTakesAndAnswersBytes() throws {
        let inputs = #"""
            {"inputs": [{"name": "plan", "shape": [2, 1], "datatype": "BYTES", "data": ["premium", "basic"]},
                        {"name": "region", "shape": [2, 1], "datatype": "BYTES", "data": ["south", "north"]},
                        {"name": "tenure", "shape": [2, 1], "datatype": "FP32", "data": [3.5, 60]},
                        {"name": "monthly", "shape": [2, 1], "datatype": "FP32", "data": [80, 20]}]}
            """#
        let outputs = try #require(try answer(inputs, .kserveV2)["outputs"] as? [[String: Any]])
        let label = try #require(outputs.first { $0["name"] as? String == "output_label" })
        #expect(label["datatype"] as? String == "BYTES" && label["shape"] as? [Int] == [2])
        let labels = try #require(label["data"] as? [String])
        #expect(labels.allSatisfy { ["churn", "stay"].contains($0) })
        let maps = try #require(outputs.first { $0["name"] as? String == "output_probability" })
        #expect(maps["datatype"] as? String == "FP32" && maps["shape"] as? [Int] == [2, 2])
        #expect((maps["parameters"] as? [String: String])?["class_labels"] == #"["churn","stay"]"#)
        let p = try #require(maps["data"] as? [Double])
        // Each label is the class with the larger probability.
        for r in 0..<2 { #expect(labels[r] == (p[2 * r] > p[2 * r + 1] ? "churn" : "stay")) }
    }

    @Test func tfServingAnswersStringsAndOneObjectPerRow() throws {
        let body = #"{"instances": [{"plan": ["premium"], "region": ["south"], "tenure": [3.5], "monthly": [80]}]}"#
        let predictions = try #require(try answer(body, .tfServing)["predictions"] as? [[String: Any]])
        #expect(predictions.count == 1)
        #expect(["churn", "stay"].contains(predictions[0]["output_label"] as? String ?? ""))
        let map = try #require(predictions[0]["output_probability"] as? [String: Double])
        #expect(map.keys.sorted() == ["churn", "stay"] && abs(map.values.reduce(0, +) - 1) < 1e-5)
        // Columnar: the label list and a list of objects.
        let columnar = try answer(#"{"inputs": "# + Self.row + "}", .tfServing)
        let outputs = try #require(columnar["outputs"] as? [String: Any])
        #expect((outputs["output_label"] as? [String])?.count == 1)
        #expect((outputs["output_probability"] as? [[String: Double]])?.first?.count == 2)
    }

    @Test func textWhereNumbersGoAndTheReverseAreRefusedByName() {
        let cases: [(String, InferenceCodecs.API, String)] = [
            (#"{"inputs": {"plan": [[1]], "region": [["south"]], "tenure": [[3.5]], "monthly": [[80]]}}"#, .tfServing, "input 'plan': expected strings (BYTES), found a number"),
            (#"{"inputs": {"plan": [["basic"]], "region": [["south"]], "tenure": [["long"]], "monthly": [[80]]}}"#, .tfServing, "input 'tenure': expected numbers, found a string"),
            (#"{"inputs": [{"name": "plan", "shape": [1, 1], "datatype": "FP32", "data": [1]}]}"#, .kserveV2, "input 'plan': expected datatype BYTES, got FP32"),
            (#"{"inputs": [{"name": "plan", "shape": [2, 1], "datatype": "BYTES", "data": ["basic"]}]}"#, .kserveV2, "input 'plan': shape [2, 1] needs 2 values, 'data' has 1"),
            (#"{"inputs": [{"name": "plan", "shape": [1, 1], "datatype": "BYTES", "data": [null]}]}"#, .kserveV2, "input 'plan': expected strings (BYTES), found null"),
        ]
        for (body, api, message) in cases {
            do {
                _ = try InferenceCodecs.answer(Data(body.utf8), api: api, model: Self.id, graph: Self.graph)
                Issue.record("accepted: \(body)")
            } catch {
                #expect(error.kind == .badRequest && error.message.contains(message), "\(body): \(error.message)")
            }
        }
    }

    @Test func theGoldenGateComparesStringsExactly() throws {
        let data = try Data(contentsOf: GoldenOutputsTests.models.appendingPathComponent("churn-pipeline/1/reference.json"))
        let golden = try GoldenOutputs.parse(data, for: Self.graph)
        let results = try Self.graph.run(golden.inputs)
        #expect(golden.disagreement(with: results) == nil)
        var wrong = results
        let labels = try #require(try results["output_label"]?.strings("labels"))
        wrong["output_label"] = Tensor(shape: [labels.count], strings: labels.map { $0 == "churn" ? "stay" : "churn" })
        #expect(golden.disagreement(with: wrong)?.contains("output_label[0]: got ") == true)
        #expect(golden.firstRow().map { golden in (try? Self.graph.run(golden.inputs)).flatMap { golden.disagreement(with: $0) } } == .some(nil))
    }
}
