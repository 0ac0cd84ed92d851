import Foundation
import HedgerowCore

/// Decodes ONNX `TensorProto`s (typed fields or little-endian `raw_data`) into tensors.
enum TensorDecoding {
    static func decode(_ proto: Onnx_TensorProto, what: String) throws(HedgerowError) -> Tensor {
        let shape = proto.dims.map { Int($0) }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw HedgerowError(.loadFailed, "\(what): negative dimension in \(shape)") }
        let count = shape.reduce(1, *)
        guard proto.dataLocation != .external else {
            throw HedgerowError(.loadFailed, "\(what): external tensor data is not supported; save the model with weights inside the .onnx file")
        }
        switch ElementType(onnx: proto.dataType) {
        case .float32:
            let values: [Float] = proto.rawData.isEmpty ? proto.floatData : littleEndian(proto.rawData, as: Float.self)
            guard values.count == count else { throw mismatch(what, shape, values.count) }
            return Tensor(shape: shape, floats: values)
        case .int64:
            let values: [Int64] = proto.rawData.isEmpty ? proto.int64Data : littleEndian(proto.rawData, as: Int64.self)
            guard values.count == count else { throw mismatch(what, shape, values.count) }
            return Tensor(shape: shape, int64s: values)
        case .int32:
            let values: [Int32] = proto.rawData.isEmpty ? proto.int32Data : littleEndian(proto.rawData, as: Int32.self)
            guard values.count == count else { throw mismatch(what, shape, values.count) }
            return Tensor(shape: shape, int32s: values)
        case .bool:
            // Stored one byte per value in raw_data, else widened into int32_data.
            let values: [Bool] = proto.rawData.isEmpty ? proto.int32Data.map { $0 != 0 } : proto.rawData.map { $0 != 0 }
            guard values.count == count else { throw mismatch(what, shape, values.count) }
            return Tensor(shape: shape, bools: values)
        case nil:
            throw HedgerowError(.loadFailed, "\(what): datatype \(ElementType.onnxName(proto.dataType)) is not supported yet")
        }
    }

    private static func mismatch(_ what: String, _ shape: [Int], _ count: Int) -> HedgerowError {
        HedgerowError(.loadFailed, "\(what): shape \(shape) needs \(shape.reduce(1, *)) values but the file holds \(count)")
    }

    private static func littleEndian<T: BitwiseCopyable>(_ data: Data, as: T.Type) -> [T] {
        let count = data.count / MemoryLayout<T>.size
        guard count > 0 else { return [] }
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            data.withUnsafeBytes { raw in
                _ = memcpy(buffer.baseAddress!, raw.baseAddress!, count * MemoryLayout<T>.size)
            }
            initialized = count
        }
    }
}
