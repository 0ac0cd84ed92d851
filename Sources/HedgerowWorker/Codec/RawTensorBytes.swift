import Foundation
import HedgerowCore
import HedgerowRuntime

/// Tensors as raw bytes: the form of gRPC's `raw_input_contents` / `raw_output_contents` and of the HTTP binary
/// tensor extension. Values are little-endian and row-major, without padding; BOOL is one byte per element; BYTES
/// is each element's length (4 bytes, little-endian) followed by its bytes. FP16, BF16 and FP64 inputs (Hedgerow
/// computes them in float32) are converted on the way in and answered in their declared width on the way out.
///
/// The byte count is the client's claim: it is checked against `count × width` (with overflow-checked
/// arithmetic) before anything is allocated, and BYTES lengths are checked against what is left before each
/// element is sliced. Every refusal is a 400 naming the input.
enum RawTensorBytes {
    /// Bytes per element of a wire datatype; nil for BYTES (variable) and unknown types.
    static func width(_ datatype: String) -> Int? {
        switch datatype {
        case "BOOL": 1
        case "FP16", "BF16": 2
        case "FP32", "INT32": 4
        case "FP64", "INT64": 8
        default: nil
        }
    }

    /// The tensor for `signature` from `bytes`, whose shape has been checked against the signature (`count` is its
    /// element count).
    static func tensor(_ bytes: Data, shape: [Int], count: Int, for signature: TensorSignature) throws(HedgerowError) -> Tensor {
        let name = signature.name
        let datatype = signature.datatype
        if signature.elementType == .string {
            return Tensor(shape: shape, strings: try strings(bytes, count: count, input: name))
        }
        guard let width = width(datatype) else {
            throw HedgerowError(.badRequest, "input '\(name)': datatype \(datatype) cannot be sent as raw bytes")
        }
        let (needed, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow, needed == bytes.count else {
            throw HedgerowError(.badRequest, "input '\(name)': shape \(shape) of \(datatype) needs \(overflow ? "more than \(Int.max)" : String(needed)) bytes, the raw contents have \(bytes.count)")
        }
        let result = bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Result<Tensor, HedgerowError> in
            func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T { T(littleEndian: raw.loadUnaligned(fromByteOffset: i * width, as: T.self)) }
            switch datatype {
            case "FP32":
                return .success(Tensor(shape: shape, floats: (0..<count).map { Float(bitPattern: load(UInt32.self, $0)) }))
            case "FP16":
                return .success(Tensor(shape: shape, floats: (0..<count).map { Float(Float16(bitPattern: load(UInt16.self, $0))) }))
            case "BF16":
                return .success(Tensor(shape: shape, floats: (0..<count).map { Float(bitPattern: UInt32(load(UInt16.self, $0)) << 16) }))
            case "FP64":
                var floats = [Float](repeating: 0, count: count)
                for i in 0..<count {
                    let value = Double(bitPattern: load(UInt64.self, i))
                    floats[i] = Float(value)
                    guard floats[i].isFinite || !value.isFinite else {
                        return .failure(HedgerowError(.badRequest, "input '\(name)': element \(i) is \(value), outside float32's range (Hedgerow computes FP64 inputs in float32)"))
                    }
                }
                return .success(Tensor(shape: shape, floats: floats))
            case "INT64":
                return .success(Tensor(shape: shape, int64s: (0..<count).map { Int64(bitPattern: load(UInt64.self, $0)) }))
            case "INT32":
                return .success(Tensor(shape: shape, int32s: (0..<count).map { Int32(bitPattern: load(UInt32.self, $0)) }))
            case "BOOL":
                if let i = raw.firstIndex(where: { $0 > 1 }) {
                    return .failure(HedgerowError(.badRequest, "input '\(name)': element \(i) is the byte \(raw[i]); BOOL raw contents are bytes 0 or 1"))
                }
                return .success(Tensor(shape: shape, bools: raw.map { $0 != 0 }))
            default:
                return .failure(HedgerowError(.badRequest, "input '\(name)': datatype \(datatype) cannot be sent as raw bytes"))
            }
        }
        return try result.get()
    }

    private static func strings(_ bytes: Data, count: Int, input name: String) throws(HedgerowError) -> [String] {
        var values: [String] = []
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            guard bytes.endIndex - offset >= 4 else {
                throw HedgerowError(.badRequest, "input '\(name)': BYTES element \(values.count) has a truncated 4-byte length")
            }
            let length = bytes[offset..<offset + 4].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            offset += 4
            guard length <= bytes.endIndex - offset else {
                throw HedgerowError(.badRequest, "input '\(name)': BYTES element \(values.count) claims \(length) bytes, \(bytes.endIndex - offset) are left")
            }
            guard values.count < count else {
                throw HedgerowError(.badRequest, "input '\(name)': the raw contents hold more than the shape's \(count) BYTES elements")
            }
            values.append(String(decoding: bytes[offset..<offset + length], as: UTF8.self))
            offset += length
        }
        guard values.count == count else {
            throw HedgerowError(.badRequest, "input '\(name)': the shape needs \(count) BYTES elements, the raw contents hold \(values.count)")
        }
        return values
    }

    /// The answer's raw bytes for an output whose wire datatype is `datatype` (the signature's, else the tensor's).
    static func bytes(of tensor: Tensor, datatype: String) -> Data {
        var out = Data()
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        switch tensor.storage {
        case .float32(let values):
            out.reserveCapacity(values.count * (width(datatype) ?? 4))
            for value in values {
                switch datatype {
                case "FP64": append(Double(value).bitPattern)
                case "FP16": append(Float16(value).bitPattern)
                case "BF16": append(UInt16(truncatingIfNeeded: value.bitPattern >> 16))
                default: append(value.bitPattern)
                }
            }
        case .int64(let values):
            out.reserveCapacity(values.count * 8)
            for value in values { append(value) }
        case .int32(let values):
            out.reserveCapacity(values.count * 4)
            for value in values { append(value) }
        case .bool(let values):
            out.append(contentsOf: values.map { $0 ? 1 : 0 })
        case .string(let values):
            for value in values {
                let utf8 = Array(value.utf8)
                append(UInt32(truncatingIfNeeded: utf8.count))
                out.append(contentsOf: utf8)
            }
        }
        return out
    }
}
