import Foundation
import HedgerowCore
@testable import HedgerowRuntime
@testable import HedgerowWorker
import Testing

@Suite struct RawTensorBytesTests {
    private func signature(_ type: ElementType, wire: String? = nil) -> TensorSignature {
        TensorSignature(name: "x", elementType: type, shape: [nil], wireType: wire)
    }

    private func little<T: FixedWidthInteger>(_ values: [T]) -> Data {
        var out = Data()
        for value in values { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    @Test func everyDatatypeRoundTrips() throws {
        let floats = Tensor(shape: [3], floats: [1.5, -2, 0])
        let ints = Tensor(shape: [2], int64s: [-1, Int64.max])
        let int32s = Tensor(shape: [2], int32s: [7, Int32.min])
        let bools = Tensor(shape: [3], bools: [true, false, true])
        let strings = Tensor(shape: [2], strings: ["", "héllo"])
        for (tensor, type) in [(floats, ElementType.float32), (ints, .int64), (int32s, .int32), (bools, .bool), (strings, .string)] {
            let bytes = RawTensorBytes.bytes(of: tensor, datatype: type.description)
            let back = try RawTensorBytes.tensor(bytes, shape: tensor.shape, count: tensor.count, for: signature(type))
            #expect(back == tensor, "\(type)")
        }
        // Declared FP64 and FP16 inputs arrive in their own width and are computed in float32.
        let fp64 = try RawTensorBytes.tensor(little([Double(0.25).bitPattern, Double(-3).bitPattern]), shape: [2], count: 2, for: signature(.float32, wire: "FP64"))
        #expect(fp64 == Tensor(shape: [2], floats: [0.25, -3]))
        let fp16 = try RawTensorBytes.tensor(little([Float16(0.5).bitPattern]), shape: [1], count: 1, for: signature(.float32, wire: "FP16"))
        #expect(fp16 == Tensor(shape: [1], floats: [0.5]))
        #expect(RawTensorBytes.bytes(of: Tensor(shape: [1], floats: [2]), datatype: "FP64") == little([Double(2).bitPattern]))
    }

    @Test func aByteCountThatDisagreesWithTheShapeIsRefused() {
        #expect(throws: HedgerowError(.badRequest, "input 'x': shape [3] of FP32 needs 12 bytes, the raw contents have 11")) {
            try RawTensorBytes.tensor(Data(count: 11), shape: [3], count: 3, for: signature(.float32))
        }
        // A count whose byte size overflows is refused before anything is allocated.
        #expect(throws: HedgerowError.self) {
            try RawTensorBytes.tensor(Data(count: 8), shape: [Int.max / 2], count: Int.max / 2, for: signature(.int64))
        }
        #expect(throws: HedgerowError(.badRequest, "input 'x': element 1 is the byte 2; BOOL raw contents are bytes 0 or 1")) {
            try RawTensorBytes.tensor(Data([1, 2]), shape: [2], count: 2, for: signature(.bool))
        }
    }

    @Test func lyingStringLengthsAreRefused() {
        let cases: [(Data, Int)] = [
            (little([UInt32(100)]) + Data("ab".utf8), 1),      // claims 100 bytes, has 2
            (little([UInt32.max]), 1),                          // claims 4 GiB
            (Data([1, 0]), 1),                                   // truncated length
            (little([UInt32(1)]) + Data("a".utf8), 2),          // fewer elements than the shape
            (little([UInt32(0), UInt32(0), UInt32(0)]), 2),     // more elements than the shape
        ]
        for (bytes, count) in cases {
            #expect(throws: HedgerowError.self, "\(Array(bytes))") {
                try RawTensorBytes.tensor(bytes, shape: [count], count: count, for: signature(.string))
            }
        }
    }
}
