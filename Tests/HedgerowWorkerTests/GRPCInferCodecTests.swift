import Foundation
import HedgerowCore
import HedgerowGRPC
@testable import HedgerowRuntime
@testable import HedgerowWorker
import SwiftProtobuf
import Testing

@Suite struct GRPCInferCodecTests {
    static let digits = CodecHostileInputTests.digits
    static let recommender = CodecHostileInputTests.recommender
    let id = ModelVersionID(model: try! ModelName("digits"), version: try! ModelVersion(1))

    private func encoded(_ build: (inout Inference_ModelInferRequest) -> Void) -> Data {
        var request = Inference_ModelInferRequest()
        request.modelName = "digits"
        build(&request)
        return try! request.serializedData()
    }

    private func input(_ name: String, _ datatype: String, _ shape: [Int64]) -> Inference_ModelInferRequest.InferInputTensor {
        .with { $0.name = name; $0.datatype = datatype; $0.shape = shape }
    }

    @Test func rawAndTypedContentsGiveTheSameAnswerAsJSON() throws {
        let values = (0..<128).map { Float($0 % 17) }
        let raw = try GRPCInferCodec.decode(encoded {
            $0.inputs = [input("input", "FP32", [2, 64])]
            $0.rawInputContents = [RawTensorBytes.bytes(of: Tensor(shape: [128], floats: values), datatype: "FP32")]
        }, graph: Self.digits)
        let typed = try GRPCInferCodec.decode(encoded {
            var tensor = input("input", "FP32", [2, 64])
            tensor.contents.fp32Contents = values
            $0.inputs = [tensor]
            $0.id = "r7"
        }, graph: Self.digits)
        let json = try KServeCodec.decode(Data(#"{"inputs":[{"name":"input","shape":[2,64],"datatype":"FP32","data":[\#(values.map { "\($0)" }.joined(separator: ","))]}]}"#.utf8), graph: Self.digits)
        #expect(raw.feeds == json.feeds && typed.feeds == json.feeds)
        let outputs = try Self.digits.run(typed.feeds)
        let answer = GRPCInferCodec.encode(outputs, request: typed, model: id, graph: Self.digits)
        #expect(answer.modelName == "digits" && answer.modelVersion == "1" && answer.id == "r7")
        #expect(answer.outputs.map(\.name) == ["probabilities"] && answer.outputs[0].shape == [2, 10] && answer.outputs[0].datatype == "FP32")
        #expect(answer.rawOutputContents == [RawTensorBytes.bytes(of: try #require(outputs["probabilities"]), datatype: "FP32")])
    }

    @Test func int64InputsOfTheRecommender() throws {
        let request = try GRPCInferCodec.decode(encoded {
            var user = input("user", "INT64", [2]); user.contents.int64Contents = [0, 5]
            var item = input("item", "INT64", [2]); item.contents.int64Contents = [3, 4]
            $0.inputs = [user, item]
        }, graph: Self.recommender)
        #expect(request.feeds["user"] == Tensor(shape: [2], int64s: [0, 5]))
    }

    @Test func everyRefusalNamesWhatIsWrong() {
        let cases: [(Data, String)] = [
            (encoded { $0.inputs = [input("input", "FP32", [1, 63])]; $0.rawInputContents = [Data(count: 252)] },
             "input 'input': expected shape [N, 64], got [1, 63]"),
            (encoded { $0.inputs = [input("input", "FP64", [1, 64])] }, "input 'input': expected datatype FP32, got FP64"),
            (encoded { $0.inputs = [input("pixels", "FP32", [1, 64])] }, "unknown input 'pixels'; the model takes 'input'"),
            (encoded { $0.inputs = [input("input", "FP32", [1, 64])]; $0.rawInputContents = [Data(count: 8)] },
             "input 'input': shape [1, 64] of FP32 needs 256 bytes, the raw contents have 8"),
            (encoded { $0.inputs = [input("input", "FP32", [1, 64])]; $0.rawInputContents = [Data(), Data()] },
             "raw_input_contents has 2 entries for 1 inputs; send one per input, in order"),
            (encoded { var t = input("input", "FP32", [1, 64]); t.contents.fp32Contents = [1]; $0.inputs = [t] },
             "input 'input': shape [1, 64] needs 64 values, contents.fp32_contents has 1"),
            (encoded { $0.inputs = [input("input", "FP32", [4_611_686_018_427_387_904, 4])] },
             "input 'input': shape [4611686018427387904, 4] has 4611686018427387904 at position 0; dimensions are integers from 0 to 1099511627776"),
            (encoded { $0.inputs = [input("input", "FP32", [-1, 64])] },
             "input 'input': shape [-1, 64] has -1 at position 0; dimensions are integers from 0 to 1099511627776"),
            (encoded { var t = input("input", "FP32", [1, 64]); t.contents.fp32Contents = Array(repeating: 0, count: 64); $0.inputs = [t]; $0.outputs = [.with { $0.name = "logits" }] },
             "unknown output 'logits'; the model produces 'probabilities'"),
            (encoded { _ in }, "request must have at least one input"),
        ]
        for (message, text) in cases {
            #expect(throws: HedgerowError(.badRequest, text)) { try GRPCInferCodec.decode(message, graph: Self.digits) }
        }
        #expect(throws: HedgerowError.self) { try GRPCInferCodec.decode(Data([0x2A, 0x80]), graph: Self.digits) }
    }

    /// The fuzzer's seeds are requests the worker answers (a seed that is refused explores nothing past the checks).
    @Test func theFuzzSeedsAreAnswered() throws {
        let folder = CodecHostileInputTests.root.appendingPathComponent("Fuzz/Corpus/FuzzGRPCInfer")
        for (name, graph) in [("digits-raw-two-rows.pb", Self.digits), ("digits-typed-one-row.pb", Self.digits), ("recommender-typed.pb", Self.recommender)] {
            let message = try Data(contentsOf: folder.appendingPathComponent(name))
            let answer = try Inference_ModelInferResponse(serializedBytes: try InferenceCodecs.grpcAnswer(message, model: id, graph: graph))
            #expect(answer.rawOutputContents.count == answer.outputs.count && !answer.outputs.isEmpty, "\(name)")
        }
    }
}
