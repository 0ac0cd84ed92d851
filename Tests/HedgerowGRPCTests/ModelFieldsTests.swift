import Foundation
import HedgerowGRPC
import NIOCore
import SwiftProtobuf
import Testing

@Suite struct ModelFieldsTests {
    private func encoded(_ request: Inference_ModelInferRequest) throws -> ByteBuffer {
        ByteBuffer(bytes: try request.serializedBytes() as [UInt8])
    }

    @Test func nameAndVersionAreReadPastTensorsAndMaps() throws {
        var request = Inference_ModelInferRequest()
        request.id = "r1"
        request.inputs = [.with { $0.name = "x"; $0.datatype = "FP32"; $0.shape = [1, 3]; $0.contents.fp32Contents = [1, 2, 3] }]
        request.rawInputContents = [Data(repeating: 7, count: 300)]
        request.parameters["priority"] = .with { $0.int64Param = -5 }
        request.modelName = "digits"
        request.modelVersion = "3"
        let fields = try GRPCModelFields.read(try encoded(request)).get()
        #expect(fields == GRPCModelFields(name: "digits", version: "3"))
    }

    @Test func pinningOverridesTheVersionForAFullDecoder() throws {
        var request = Inference_ModelInferRequest()
        request.modelName = "digits"
        request.modelVersion = "7"
        request.rawInputContents = [Data([1, 2, 3])]
        let pinned = try GRPCFrame.message(in: GRPCModelFields.pinnedFrame(try encoded(request), to: "12"), encoding: nil).get()
        #expect(try GRPCModelFields.read(pinned).get().version == "12")
        let decoded = try Inference_ModelInferRequest(serializedBytes: Array(pinned.readableBytesView))
        #expect(decoded.modelVersion == "12")
        #expect(decoded.modelName == "digits")
        #expect(decoded.rawInputContents == [Data([1, 2, 3])])
    }

    @Test func truncatedAndOverlongFieldsAreRefused() {
        let cases: [[UInt8]] = [
            [0x0A, 0x05, 0x61],                   // name claims 5 bytes, has 1
            [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F],  // name claims 4 GiB
            [0x08],                               // varint field without its value
            [0x0B],                               // wire type 3 (group)
            [0x0A, 0x02, 0xFF, 0xFE],             // name not UTF-8
            Array(repeating: 0xFF, count: 11),    // key longer than a varint
        ]
        for bytes in cases {
            guard case .failure = GRPCModelFields.read(ByteBuffer(bytes: bytes)) else {
                Issue.record("accepted \(bytes)")
                continue
            }
        }
    }
}
