import Foundation
import HedgerowCore
@testable import HedgerowRuntime
@testable import HedgerowWorker
import Testing

/// Triton's binary tensor extension over HTTP (`Inference-Header-Content-Length`), as tritonclient.http sends it.
@Suite struct BinaryTensorDataTests {
    static let graph = CodecHostileInputTests.recommender
    let id = ModelVersionID(model: try! ModelName("recommender"), version: try! ModelVersion(1))

    private func request(_ header: String, _ binary: Data) -> (Data, Int) {
        (Data(header.utf8) + binary, header.utf8.count)
    }

    private func int64s(_ values: [Int64]) -> Data { RawTensorBytes.bytes(of: Tensor(shape: [values.count], int64s: values), datatype: "INT64") }

    @Test func binaryInputsAndOutputsEqualTheJSONPath() throws {
        let header = #"{"inputs":[{"name":"user","shape":[3],"datatype":"INT64","parameters":{"binary_data_size":24}},"#
            + #"{"name":"item","shape":[3],"datatype":"INT64","data":[4,5,6]}],"outputs":[{"name":"score","parameters":{"binary_data":true}}]}"#
        let (body, length) = request(header, int64s([1, 2, 3]))
        let binary = try KServeCodec.decode(body, graph: Self.graph, headerLength: length)
        let json = try KServeCodec.decode(Data(#"{"inputs":[{"name":"user","shape":[3],"datatype":"INT64","data":[1,2,3]},{"name":"item","shape":[3],"datatype":"INT64","data":[4,5,6]}]}"#.utf8), graph: Self.graph)
        #expect(binary.feeds == json.feeds)
        #expect(binary.binaryOutputs == ["score"])
        let outputs = try Self.graph.run(binary.feeds)
        let (answer, headerLength) = KServeCodec.encode(outputs, request: binary, model: id, graph: Self.graph)
        let jsonLength = try #require(headerLength)
        let text = String(decoding: answer.prefix(jsonLength), as: UTF8.self)
        #expect(text.contains(#""parameters":{"binary_data_size":12}"#), "\(text)")
        #expect(!text.contains("\"data\""))
        let expected = RawTensorBytes.bytes(of: try #require(outputs["score"]), datatype: "FP32")
        #expect(answer.dropFirst(jsonLength) == expected)
        // Asked for every output by the request's binary_data_output.
        let all = try KServeCodec.decode(Data(#"{"inputs":[{"name":"user","shape":[1],"datatype":"INT64","data":[1]},{"name":"item","shape":[1],"datatype":"INT64","data":[1]}],"parameters":{"binary_data_output":true}}"#.utf8), graph: Self.graph)
        #expect(all.binaryOutputs == ["score"])
    }

    @Test func lyingSizesAreClear400s() {
        let cases: [(String, Data, Int?, String)] = [
            (#"{"inputs":[{"name":"user","shape":[3],"datatype":"INT64","parameters":{"binary_data_size":800}}]}"#, int64s([1, 2, 3]), nil,
             "input 'user': parameters.binary_data_size 800 is not a byte count within the 24 bytes of binary data left"),
            (#"{"inputs":[{"name":"user","shape":[3],"datatype":"INT64","parameters":{"binary_data_size":16}},{"name":"item","shape":[1],"datatype":"INT64","data":[1]}]}"#, int64s([1, 2, 3]), nil,
             "input 'user': shape [3] of INT64 needs 24 bytes, the raw contents have 16"),
            (#"{"inputs":[{"name":"user","shape":[1],"datatype":"INT64","parameters":{"binary_data_size":-8}}]}"#, int64s([1]), nil,
             "input 'user': parameters.binary_data_size -8 is not a byte count within the 8 bytes of binary data left"),
            (#"{"inputs":[{"name":"user","shape":[1],"datatype":"INT64","data":[1]},{"name":"item","shape":[1],"datatype":"INT64","data":[1]}]}"#, int64s([1]), nil,
             "8 bytes of binary data follow the inputs' binary_data_size"),
            (#"{"inputs":[]}"#, Data(), 1000, "Inference-Header-Content-Length is 1000 but the body has 13 bytes"),
            (#"{"inputs":[{"name":"user","shape":[1],"datatype":"INT64","data":[1]},{"name":"item","shape":[1],"datatype":"INT64","data":[1]}],"outputs":[{"name":"score","parameters":{"binary_data":1}}]}"#, Data(), nil,
             "output 'score': parameters.binary_data must be true or false, not a number"),
        ]
        for (header, binary, claimed, message) in cases {
            let (body, length) = request(header, binary)
            #expect(throws: HedgerowError(.badRequest, message)) {
                try KServeCodec.decode(body, graph: Self.graph, headerLength: claimed ?? length)
            }
        }
        // binary_data_size without the header that says where the JSON ends.
        #expect(throws: HedgerowError.self) {
            try KServeCodec.decode(Data(#"{"inputs":[{"name":"user","shape":[1],"datatype":"INT64","parameters":{"binary_data_size":8}}]}"#.utf8), graph: Self.graph)
        }
    }
}
