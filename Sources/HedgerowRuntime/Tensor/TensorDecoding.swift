import Foundation
import HedgerowCore

/// Decodes ONNX `TensorProto`s (typed fields or little-endian `raw_data`) into tensors.
///
/// The dims and bytes are a model file's, so hostile: dims must make a valid shape (`TensorLimits`), `raw_data`
/// must hold exactly the shape's values (a length that is not a whole number of elements, or too few or too many,
/// is refused rather than truncated), and data stored outside the file is refused here (`ExternalTensorData` reads an initializer's into `raw_data` first). Every failure is `.loadFailed`
/// naming `what`.
enum TensorDecoding {
    static func decode(_ proto: Onnx_TensorProto, what: String) throws(HedgerowError) -> Tensor {
        let shape = proto.dims.map { Int($0) }  // Int64 → Int: exact on the 64-bit platforms Hedgerow builds for.
        let count = try TensorLimits.count(shape, what: what, kind: .loadFailed)
        guard proto.dataLocation != .external else {
            throw HedgerowError(.loadFailed, "\(what): external tensor data is supported for initializers only; keep node attributes inside the .onnx file")
        }
        guard let type = ElementType(onnx: proto.dataType) else {
            throw HedgerowError(.loadFailed, "\(what): datatype \(ElementType.onnxName(proto.dataType)) is not supported yet")
        }
        if type == .string {
            // Strings are only ever in string_data (raw_data cannot hold them).
            guard proto.stringData.count == count else { throw mismatch(what, shape, count, proto.stringData.count) }
            return Tensor(shape: shape, strings: proto.stringData.map { String(decoding: $0, as: UTF8.self) })
        }
        if [10, 11, 16].contains(proto.dataType) { return try decodeWideFloat(proto, shape: shape, count: count, what: what) }
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

    /// float16 (10), float64 (11) and bfloat16 (16) as float32: from raw_data (2 or 8 bytes each, little-endian),
    /// double_data, or int32_data (half-precision bit patterns).
    private static func decodeWideFloat(_ proto: Onnx_TensorProto, shape: [Int], count: Int, what: String) throws(HedgerowError) -> Tensor {
        let width = proto.dataType == 11 ? 8 : 2
        if !proto.rawData.isEmpty {
            let words = try littleEndianWords(proto, width: width, count: count, shape: shape, what: what)
            return Tensor(shape: shape, floats: words.map { widened($0, type: proto.dataType) })
        }
        if proto.dataType == 11 {
            guard proto.doubleData.count == count else { throw mismatch(what, shape, count, proto.doubleData.count) }
            return Tensor(shape: shape, floats: proto.doubleData.map { Float($0) })
        }
        guard proto.int32Data.count == count else { throw mismatch(what, shape, count, proto.int32Data.count) }
        return Tensor(shape: shape, floats: proto.int32Data.map { widened(UInt64(UInt16(truncatingIfNeeded: $0)), type: proto.dataType) })
    }

    /// One float16, bfloat16 or float64 value's bits as float32.
    static func widened(_ bits: UInt64, type: Int32) -> Float {
        switch type {
        case 11: return Float(Double(bitPattern: bits))
        case 16: return Float(bitPattern: UInt32(truncatingIfNeeded: bits) << 16)
        default: return HalfFloat.float(UInt16(truncatingIfNeeded: bits))
        }
    }

    /// For the tensor attributes of ai.onnx.ml nodes, whose parameters come in types the runtime does not compute
    /// with: small integers (uint8, int8, uint16, int16: TreeEnsemble's modes) widened to int64. float64
    /// (TreeEnsemble's splits and weights) and the other types decode as `decode` does (float64 as float32, as
    /// onnxruntime reads them for float input).
    static func decodeWidening(_ proto: Onnx_TensorProto, what: String) throws(HedgerowError) -> Tensor {
        let widths: [Int32: Int] = [2: 1, 3: 1, 4: 2, 5: 2]
        guard let width = widths[proto.dataType], proto.dataLocation != .external else { return try decode(proto, what: what) }
        let shape = proto.dims.map { Int($0) }
        let count = try TensorLimits.count(shape, what: what, kind: .loadFailed)
        if !proto.rawData.isEmpty {
            let words = try littleEndianWords(proto, width: width, count: count, shape: shape, what: what)
            switch proto.dataType {
            case 2, 4: return Tensor(shape: shape, int64s: words.map { Int64($0) })
            case 3: return Tensor(shape: shape, int64s: words.map { Int64(Int8(truncatingIfNeeded: $0)) })
            default: return Tensor(shape: shape, int64s: words.map { Int64(Int16(truncatingIfNeeded: $0)) })
            }
        }
        // Small integers are widened into int32_data in the typed fields.
        guard proto.int32Data.count == count else { throw mismatch(what, shape, count, proto.int32Data.count) }
        return Tensor(shape: shape, int64s: proto.int32Data.map { Int64($0) })
    }

    /// raw_data as `count` little-endian words of `width` bytes (1 to 8), refused unless it holds exactly that.
    private static func littleEndianWords(_ proto: Onnx_TensorProto, width: Int, count: Int, shape: [Int], what: String) throws(HedgerowError) -> [UInt64] {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow, proto.rawData.count == bytes else { throw mismatch(what, shape, count, proto.rawData.count / width) }
        let raw = [UInt8](proto.rawData)
        return (0..<count).map { i in
            var word: UInt64 = 0
            for b in 0..<width { word |= UInt64(raw[i * width + b]) << (8 * b) }
            return word
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
