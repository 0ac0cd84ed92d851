import HedgerowCore

/// The element types the runtime computes with. ONNX's `TensorProto.DataType` numbers are kept for decoding.
public enum ElementType: String, Sendable, Hashable, CustomStringConvertible {
    case float32 = "FP32"
    case int64 = "INT64"

    /// ONNX `TensorProto.DataType` value, or nil for a type the runtime does not compute with.
    init?(onnx value: Int32) {
        switch value {
        case 1: self = .float32
        case 7: self = .int64
        default: return nil
        }
    }

    static func onnxName(_ value: Int32) -> String {
        let names: [Int32: String] = [
            1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
            9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16",
        ]
        return names[value] ?? "type \(value)"
    }

    /// The KServe v2 datatype name ("FP32", "INT64").
    public var description: String { rawValue }
}

/// A dense, row-major tensor. Values are copy-on-write arrays, so handing a tensor to several consumers never
/// copies it; kernels write into fresh arrays.
public struct Tensor: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        case float32([Float])
        case int64([Int64])
    }

    public var shape: [Int]
    public var storage: Storage

    public init(shape: [Int], floats: [Float]) {
        precondition(shape.reduce(1, *) == floats.count, "shape \(shape) does not hold \(floats.count) values")
        self.shape = shape
        self.storage = .float32(floats)
    }

    public init(shape: [Int], int64s: [Int64]) {
        precondition(shape.reduce(1, *) == int64s.count, "shape \(shape) does not hold \(int64s.count) values")
        self.shape = shape
        self.storage = .int64(int64s)
    }

    public var elementType: ElementType {
        switch storage {
        case .float32: .float32
        case .int64: .int64
        }
    }

    public var count: Int { shape.reduce(1, *) }

    /// The float32 values; throws naming `what` if the tensor holds another type.
    public func floats(_ what: @autoclosure () -> String) throws(HedgerowError) -> [Float] {
        guard case .float32(let values) = storage else {
            throw HedgerowError(.badRequest, "\(what()) must be float32, got \(elementType)")
        }
        return values
    }

    public func int64s(_ what: @autoclosure () -> String) throws(HedgerowError) -> [Int64] {
        guard case .int64(let values) = storage else {
            throw HedgerowError(.badRequest, "\(what()) must be int64, got \(elementType)")
        }
        return values
    }

    /// The same values under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count)
        var copy = self
        copy.shape = newShape
        return copy
    }
}
