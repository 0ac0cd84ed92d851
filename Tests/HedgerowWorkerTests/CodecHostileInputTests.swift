import Foundation
import HedgerowCore
@testable import HedgerowRuntime
@testable import HedgerowWorker
import Testing

/// Requests that once trapped a worker (issue 11) or could: every one must be a 400 naming the input, never a
/// crash. A failing case here would kill the test process, which is the point.
@Suite struct CodecHostileInputTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let digits: ModelGraph = try! ModelLoader.load(contentsOf: root.appendingPathComponent("Models/digits/1/model.onnx").path)
    static let recommender: ModelGraph = try! ModelLoader.load(contentsOf: root.appendingPathComponent("Models/recommender/1/model.onnx").path)

    func refused(_ json: String, _ api: InferenceCodecs.API = .kserveV2, graph: ModelGraph = digits) -> HedgerowError? {
        let id = ModelVersionID(model: try! ModelName("digits"), version: try! ModelVersion(1))
        do {
            let answer = try InferenceCodecs.answer(Data(json.utf8), api: api, model: id, graph: graph)
            Issue.record("accepted \(json.prefix(200)): \(answer.prefix(200))")
            return nil
        } catch {
            #expect(error.kind == .badRequest, "\(error)")
            return error
        }
    }

    /// The exact request of issue 11: `shape.reduce(1, *)` overflowed and the worker died of SIGILL.
    @Test func issue11ShapeProductOverflow() {
        let error = refused(#"{"inputs":[{"name":"input","shape":[4611686018427387904,4],"datatype":"FP32","data":[1]}]}"#)
        #expect(error?.message.contains("'input'") == true, "\(String(describing: error))")
        #expect(error?.message == "input 'input': shape [4611686018427387904, 4] has 4611686018427387904 at position 0; dimensions are integers from 0 to 1099511627776")
    }

    @Test func overflowingShapesOfEveryKind() {
        let shapes = [
            "[4611686018427387904, 4]", "[9223372036854775807, 2]", "[1099511627776, 1099511627776]",
            "[1e300, 64]", "[18446744073709551616, 64]", "[-1, 64]", "[1.5, 64]", "[true, 64]", "[\"1\", 64]",
            "[null, 64]", "[[1], 64]", "[2, 0, 4611686018427387904, 4]", "[" + Array(repeating: "1", count: 40).joined(separator: ",") + "]",
        ]
        for shape in shapes {
            let error = refused(#"{"inputs":[{"name":"input","shape":\#(shape),"datatype":"FP32","data":[1]}]}"#)
            #expect(error?.message.hasPrefix("input 'input'") == true, "\(shape): \(String(describing: error))")
        }
    }

    /// Shapes are held to the signature before any value is converted: rank and fixed dimensions.
    @Test func shapeAgainstSignature() {
        let error = refused(#"{"inputs":[{"name":"input","shape":[1,63],"datatype":"FP32","data":[]}]}"#)
        #expect(error?.message == "input 'input': expected shape [N, 64], got [1, 63]")
        #expect(refused(#"{"instances": [[1, 2]]}"#, .tfServing)?.message == "input 'input': expected shape [N, 64], got [1, 2]")
        #expect(refused(#"{"inputs": [[[0]]]}"#, .tfServing)?.message == "input 'input': expected shape [N, 64], got [1, 1, 1]")
    }

    /// Negative zero is zero; a zero-row batch is an empty answer, not a crash.
    @Test func negativeZeroAndEmptyBatches() throws {
        let id = ModelVersionID(model: try ModelName("digits"), version: try ModelVersion(1))
        let zero = Array(repeating: "-0", count: 64).joined(separator: ",")
        let answer = try InferenceCodecs.answer(Data(#"{"inputs":[{"name":"input","shape":[-0,64],"datatype":"FP32","data":[]}]}"#.utf8), api: .kserveV2, model: id, graph: Self.digits)
        #expect(answer.contains("\"shape\":[0,10]"))
        let one = try InferenceCodecs.answer(Data(#"{"instances":[[\#(zero)]]}"#.utf8), api: .tfServing, model: id, graph: Self.digits)
        #expect(one.hasPrefix("{\"predictions\":[["))
    }

    /// `[[[[...]]]]` 100k deep: Foundation refuses JSON deeper than 512, and the flattening stops at 32 levels.
    @Test func deepNesting() {
        let deep = String(repeating: "[", count: 100_000) + "0" + String(repeating: "]", count: 100_000)
        #expect(refused(#"{"instances": \#(deep)}"#, .tfServing)?.message.hasPrefix("malformed JSON body") == true)
        let forty = String(repeating: "[", count: 40) + "0" + String(repeating: "]", count: 40)
        #expect(refused(#"{"instances": \#(forty)}"#, .tfServing)?.message.contains("nested deeper than 32") == true)
        #expect(refused(#"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":\#(forty)}]}"#)?.message.contains("nested deeper than 32") == true)
    }

    @Test func dataCountAndValues() {
        let row = "[" + Array(repeating: "0", count: 64).joined(separator: ",") + "]"
        let cases: [(String, String)] = [
            (#"{"inputs":[{"name":"input","shape":[2,64],"datatype":"FP32","data":[1]}]}"#, "input 'input': shape [2, 64] needs 128 values, 'data' has 1"),
            (#"{"inputs":[{"name":"input","shape":[0,64],"datatype":"FP32","data":[1]}]}"#, "input 'input': shape [0, 64] needs 0 values, 'data' has 1"),
            (#"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":[true]}]}"#, "input 'input': shape [1, 64] needs 64 values"),
            (#"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":{"a":1}}]}"#, "input 'input': expected numbers, found an object"),
            (#"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":\#(row)},{"name":"input","shape":[1,64],"datatype":"FP32","data":[1]}]}"#, "input 'input' appears twice"),
            (#"{"inputs":[{"name":"input","shape":"[1,64]","datatype":"FP32","data":[1]}]}"#, "input 'input' has no 'shape' list"),
            (#"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":\#(row)}],"outputs":"probabilities"}"#, "'outputs' must be a list"),
            (#"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":\#(row)}],"outputs":[{"name":"nope"}]}"#, "unknown output 'nope'"),
            (#"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":\#(row)}],"id":7}"#, "'id' must be a string"),
        ]
        for (json, prefix) in cases {
            let error = refused(json)
            #expect(error?.message.hasPrefix(prefix) == true, "\(json): \(String(describing: error))")
        }
        let ones = Array(repeating: "true", count: 64).joined(separator: ",")
        #expect(refused(#"{"instances":[[\#(ones)]]}"#, .tfServing)?.message == "input 'input': element 0 is a boolean; FP32 expects numbers")
    }

    /// The recommender's two INT64 inputs: integers only, in the exact range of a Double, named form per row.
    @Test func int64Inputs() throws {
        let id = ModelVersionID(model: try ModelName("recommender"), version: try ModelVersion(1))
        let answer = try InferenceCodecs.answer(Data(#"{"instances":[{"user":1,"item":2},{"user":-0,"item":3}]}"#.utf8), api: .tfServing, model: id, graph: Self.recommender)
        #expect(answer.hasPrefix("{\"predictions\":"))
        for bad in ["1.5", "1e300", "18446744073709551616", "9007199254740994", "true"] {
            let error = refused(#"{"inputs":[{"name":"user","shape":[1],"datatype":"INT64","data":[\#(bad)]},{"name":"item","shape":[1],"datatype":"INT64","data":[1]}]}"#, graph: Self.recommender)
            #expect(error?.message.hasPrefix("input 'user': element 0") == true, "\(bad): \(String(describing: error))")
        }
        #expect(refused(#"{"inputs":[{"name":"user","shape":[1],"datatype":"INT64","data":[1]}]}"#, graph: Self.recommender)?.message.hasPrefix("missing input 'item'") == true)
        #expect(refused(#"{"instances":[{"user":1}]}"#, .tfServing, graph: Self.recommender)?.message == "instance 0 must be an object with a value for input 'item'")
    }

    /// The fuzz targets' seeds and every reproducer they ever saved run here too, through the same public entry,
    /// so `swift test` replays them without the sanitizer build. A regression crashes the test process.
    @Test func committedFuzzInputsReplay() throws {
        var count = 0
        for (directory, api) in [("FuzzKServe", InferenceCodecs.API.kserveV2), ("FuzzTFServing", .tfServing)] {
            for kind in ["Corpus", "Regressions"] {
                let folder = Self.root.appendingPathComponent("Fuzz/\(kind)/\(directory)")
                for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
                    let body = try Data(contentsOf: folder.appendingPathComponent(name))
                    for (model, graph) in [("digits", Self.digits), ("recommender", Self.recommender)] {
                        let id = ModelVersionID(model: try ModelName(model), version: try ModelVersion(1))
                        if let answer = try? InferenceCodecs.answer(body, api: api, model: id, graph: graph) {
                            #expect((try? JSONSerialization.jsonObject(with: Data(answer.utf8))) is [String: Any], "\(name)")
                        }
                    }
                    count += 1
                }
            }
        }
        #expect(count >= 12)
    }

    /// Encoders on shapes a hostile model could produce: empty dimensions next to huge ones, scalars, outputs
    /// whose batch sizes differ (the row format read past the shorter one).
    @Test func encodersNeverIndexPastTheValues() throws {
        var out = ""
        TensorJSONWriter.appendNested(Tensor(shape: [0, 1 << 40, 1 << 40], floats: []), to: &out)
        #expect(out == "[]")
        out = ""
        TensorJSONWriter.appendNested(Tensor(shape: [2, 0, 1 << 62], floats: []), to: &out)
        #expect(out == "[[],[]]")
        out = ""
        TensorJSONWriter.appendNested(Tensor(shape: [], floats: [3]), to: &out)
        #expect(out == "3.0")

        let graph = ModelGraph(
            inputs: [], outputs: [TensorSignature(name: "a", elementType: .float32, shape: [nil]), TensorSignature(name: "b", elementType: .float32, shape: [])],
            nodes: [], kernels: [], initializers: [:], opsetVersion: 13)
        let text = TFServingCodec.encode(["a": Tensor(shape: [3], floats: [1, 2, 3]), "b": Tensor(shape: [], floats: [9])], graph: graph, format: .row)
        #expect(text == #"{"outputs":{"a":[1.0,2.0,3.0],"b":9.0}}"#)
        let uneven = TFServingCodec.encode(["a": Tensor(shape: [3], floats: [1, 2, 3]), "b": Tensor(shape: [1], floats: [9])], graph: graph, format: .row)
        #expect(uneven == #"{"outputs":{"a":[1.0,2.0,3.0],"b":[9.0]}}"#)
        let request = KServeCodec.Request(id: nil, feeds: [:], requestedOutputs: ["a", "b"])
        let v2 = String(decoding: KServeCodec.encode(["b": Tensor(shape: [], floats: [9])], request: request, model: ModelVersionID(model: try ModelName("m"), version: try ModelVersion(1)), graph: graph).body, as: UTF8.self)
        #expect(v2.hasSuffix(#""outputs":[{"name":"b","datatype":"FP32","shape":[],"data":[9.0]}]}"#), "\(v2)")
    }
}
