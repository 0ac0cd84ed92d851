import Foundation
import HedgerowCore

/// Decodes ONNX `TensorProto`s (typed fields or little-endian `raw_data`) into tensors.
///
/// The dims and bytes are a model file's, so hostile: dims must make a valid shape (`TensorLimits`), `raw_data`
/// must hold exactly the shape's values (a length that is not a whole number of elements, or too few or too many,
/// is refused rather than truncated), and data stored outside the file is refused. Every failure is `.loadFailed`
/// naming `what`.
enum TensorDecoding {
    static func decode(_ proto: Onnx_TensorProto, what: String) throws(HedgerowError) -> Tensor {
        let shape = proto.dims.map { Int($0) }  // Int64 → Int: exact on the 64-bit platforms Hedgerow builds for.
        let count = try TensorLimits.count(shape, what: what, kind: .loadFailed)
        guard proto.dataLocation != .external else {
            throw HedgerowError(.loadFailed, "\(what): external tensor data is not supported; save the model with weights inside the .onnx file")
        }
        guard let type = ElementType(onnx: proto.dataType) else {
            throw HedgerowError(.loadFailed, "\(what): datatype \(ElementType.onnxName(proto.dataType)) is not supported yet")
        }
        if type == .string {
            // Strings are only ever in string_data (raw_data cannot hold them).
            guard proto.stringData.count == count else { throw mismatch(what, shape, count, proto.stringData.count) }
            return Tensor(shape: shape, strings: proto.stringData.map { String(decoding: $0, as: UTF8.self) })
        }
        if !proto.rawData.isEmpty {
            // Bool is stored one byte per value in raw_data.
            let (bytes, overflow) = count.multipliedReportingOverflow(by: type.size)
            guard !overflow, proto.rawData.count == bytes else {
                throw HedgerowError(.loadFailed, "\(what): shape \(shape) of \(type) needs \(count) values (\(count * type.size) bytes) but raw_data holds \(proto.rawData.count) bytes")
            }
        }
        switch type {
        case .float32:
            let values: [Float] = proto.rawData.isEmpty ? proto.floatData : littleEndian(proto.rawData, as: Float.self)
            guard values.count == count else { throw mismatch(what, shape, count, values.count) }
            return Tensor(shape: shape, floats: values)
        case .int64:
            let values: [Int64] = proto.rawData.isEmpty ? proto.int64Data : littleEndian(proto.rawData, as: Int64.self)
            guard values.count == count else { throw mismatch(what, shape, count, values.count) }
            return Tensor(shape: shape, int64s: values)
        case .int32:
            let values: [Int32] = proto.rawData.isEmpty ? proto.int32Data : littleEndian(proto.rawData, as: Int32.self)
            guard values.count == count else { throw mismatch(what, shape, count, values.count) }
            return Tensor(shape: shape, int32s: values)
        case .bool:
            // Widened into int32_data when not in raw_data.
            let values: [Bool] = proto.rawData.isEmpty ? proto.int32Data.map { $0 != 0 } : proto.rawData.map { $0 != 0 }
            guard values.count == count else { throw mismatch(what, shape, count, values.count) }
            return Tensor(shape: shape, bools: values)
        case .string:
            preconditionFailure("strings are decoded above")
        }
    }

    private static func mismatch(_ what: String, _ shape: [Int], _ count: Int, _ given: Int) -> HedgerowError {
        HedgerowError(.loadFailed, "\(what): shape \(shape) needs \(count) values but the file holds \(given)")
    }

    /// The whole elements of `data` (the caller has checked that its length is a whole number of them).
    private static func littleEndian<T: BitwiseCopyable>(_ data: Data, as: T.Type) -> [T] {
        let count = data.count / MemoryLayout<T>.size
        guard count > 0 else { return [] }
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            data.withUnsafeBytes { raw in
                // Both pointers are non-nil: count > 0, so neither buffer is empty.
                _ = memcpy(buffer.baseAddress!, raw.baseAddress!, count * MemoryLayout<T>.size)
            }
            initialized = count
        }
    }
}
