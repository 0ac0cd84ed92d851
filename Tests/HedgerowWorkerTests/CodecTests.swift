import Foundation
import HedgerowCore
import HedgerowHTTP
@testable import HedgerowRuntime
@testable import HedgerowWorker
import Testing

@Suite struct CodecTests {
    /// y = x + 1 over [N, 2].
    let graph: ModelGraph = {
        var one = Onnx_TensorProto()
        one.name = "one"; one.dims = [1]; one.dataType = 1; one.floatData = [1]
        var model = Onnx_ModelProto()
        model.irVersion = 8
        var opset = Onnx_OperatorSetIdProto(); opset.version = 13
        model.opsetImport = [opset]
        var node = Onnx_NodeProto(); node.opType = "Add"; node.input = ["x", "one"]; node.output = ["y"]
        func info(_ name: String) -> Onnx_ValueInfoProto {
            var i = Onnx_ValueInfoProto(); i.name = name
            var t = Onnx_TypeProto.Tensor(); t.elemType = 1
            var n = Onnx_TensorShapeProto.Dimension(); n.dimParam = "N"
            var two = Onnx_TensorShapeProto.Dimension(); two.dimValue = 2
            t.shape.dim = [n, two]; i.type.tensorType = t
            return i
        }
        model.graph.node = [node]; model.graph.input = [info("x")]; model.graph.output = [info("y")]; model.graph.initializer = [one]
        return try! ModelLoader.load(try! model.serializedData())
    }()

    func body(_ json: String) -> Data { Data(json.utf8) }

    @Test func tfServingRowFormat() throws {
        let (feeds, format) = try TFServingCodec.decode(body(#"{"instances": [[1, 2], [3, 4]]}"#), graph: graph)
        #expect(format == .row)
        #expect(feeds["x"] == Tensor(shape: [2, 2], floats: [1, 2, 3, 4]))
        let out = TFServingCodec.encode(try graph.run(feeds), graph: graph, format: format)
        #expect(out == #"{"predictions":[[2.0,3.0],[4.0,5.0]]}"#)
    }

    @Test func tfServingColumnarFormat() throws {
        let (feeds, format) = try TFServingCodec.decode(body(#"{"inputs": {"x": [[1, 2]]}}"#), graph: graph)
        #expect(format == .columnar)
        #expect(TFServingCodec.encode(try graph.run(feeds), graph: graph, format: format) == #"{"outputs":[[2.0,3.0]]}"#)
        let (bare, _) = try TFServingCodec.decode(body(#"{"inputs": [[0, 0]]}"#), graph: graph)
        #expect(bare["x"] == Tensor(shape: [1, 2], floats: [0, 0]))
    }

    @Test func kserveV2() throws {
        let request = try KServeCodec.decode(body(#"{"id": "r1", "inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [5, 6]}]}"#), graph: graph)
        let id = ModelVersionID(model: try ModelName("plus"), version: try ModelVersion(3))
        let out = String(decoding: KServeCodec.encode(try graph.run(request.feeds), request: request, model: id, graph: graph).body, as: UTF8.self)
        #expect(out == #"{"model_name":"plus","model_version":"3","id":"r1","outputs":[{"name":"y","datatype":"FP32","shape":[1,2],"data":[6.0,7.0]}]}"#)
    }

    @Test func badBodiesAreClear400s() {
        let cases: [(String, String)] = [
            (#"{"#, "malformed JSON body"),
            (#"[1]"#, "request body must be a JSON object"),
            (#"{"instances": [[1, 2], [3]]}"#, "input 'x': ragged nested list"),
            (#"{"instances": [["a", "b"]]}"#, "input 'x': expected numbers, found a string"),
            (#"{"nothing": 1}"#, "request must have 'instances'"),
            (#"{"inputs": {"z": [[1, 2]]}}"#, "unknown input 'z'"),
            (#"{"instances": [[NaN, 1]]}"#, "malformed JSON body"),
            (#"{"instances": [[1, 1e39]]}"#, "input 'x': element 1 is 1e+39, outside float32's range"),
        ]
        for (json, message) in cases {
            do {
                _ = try TFServingCodec.decode(body(json), graph: graph)
                Issue.record("accepted \(json)")
            } catch {
                #expect(error.kind == .badRequest)
                #expect(error.message.hasPrefix(message), "\(error.message)")
            }
        }
        let v2: [(String, String)] = [
            (#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]}]}"#, "input 'x': expected datatype FP32, got INT64"),
            (#"{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2]}]}"#, "input 'x': shape [2, 2] needs 4 values, 'data' has 2"),
            (#"{"inputs": []}"#, "request must have a non-empty 'inputs' list"),
        ]
        for (json, message) in v2 {
            #expect(throws: HedgerowError(.badRequest, message)) { try KServeCodec.decode(body(json), graph: graph) }
        }
    }

    @Test func nonFiniteValuesAreNamed() {
        #expect { try TFServingCodec.decode(body(#"{"instances": [[NaN, Infinity]]}"#), graph: graph) } throws: {
            ($0 as? HedgerowError)?.message.contains("NaN and Infinity are not JSON numbers") == true
        }
    }

    /// A tensor larger than the model declares is refused before any kernel runs, naming both shapes.
    @Test func tensorsBiggerThanDeclaredAreRefused() throws {
        for json in [#"{"instances": [[1, 2, 3]]}"#, #"{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}"#] {
            #expect {
                let feeds = json.contains("instances") ? try TFServingCodec.decode(body(json), graph: graph).0 : try KServeCodec.decode(body(json), graph: graph).feeds
                _ = try graph.run(feeds)
            } throws: { error in
                let message = (error as? HedgerowError)?.message ?? ""
                return (error as? HedgerowError)?.kind == .badRequest && message.contains("'x'") && message.contains("[1, 3]") && message.contains("2")
            }
        }
    }

    @Test func bearerTokenComparison() {
        #expect(BearerToken.matches(header: "Bearer s3cret", expected: "s3cret"))
        #expect(!BearerToken.matches(header: "Bearer s3cre", expected: "s3cret"))
        #expect(!BearerToken.matches(header: "Bearer s3cretX", expected: "s3cret"))
        #expect(!BearerToken.matches(header: "s3cret", expected: "s3cret"))
    }
}
