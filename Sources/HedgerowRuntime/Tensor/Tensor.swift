import HedgerowCore

/// The element types the runtime computes with. ONNX's `TensorProto.DataType` numbers are kept for decoding.
public enum ElementType: String, Sendable, Hashable, CustomStringConvertible {
    case float32 = "FP32"
    case int64 = "INT64"
    case int32 = "INT32"
    case bool = "BOOL"
    /// Text: class labels, categories. KServe v2 calls it BYTES; JSON carries it as strings. Only data-movement
    /// and the classic-ML operators take it; arithmetic refuses it by name.
    case string = "BYTES"

    /// ONNX `TensorProto.DataType` value, or nil for a type the runtime does not compute with. float16, bfloat16
    /// and float64 are computed as float32: their values are converted where they enter (initializers, requests,
    /// Cast) and their declared type is kept for the wire (`TensorSignature.wireType`).
    init?(onnx value: Int32) {
        switch value {
        case 1, 10, 11, 16: self = .float32
        case 7: self = .int64
        case 6: self = .int32
        case 9: self = .bool
        case 8: self = .string
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

    /// Bytes one element takes (for a string, the `String` value itself; its text, when longer than 15 bytes,
    /// lives in a buffer of its own that `Tensor.bytes` counts).
    public var size: Int {
        switch self {
        case .float32, .int32: 4
        case .int64: 8
        case .bool: 1
        case .string: MemoryLayout<String>.size
        }
    }

    /// The KServe v2 datatype name ("FP32", "INT64", "INT32", "BOOL", "BYTES").
    public var description: String { rawValue }
}

/// A dense, row-major tensor. Values are copy-on-write arrays, so handing a tensor to several consumers never
/// copies it; kernels write into fresh arrays.
public struct Tensor: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        case float32([Float])
        case int64([Int64])
        case int32([Int32])
        case bool([Bool])
        case string([String])
    }

    /// Invariant: every dimension is ≥ 0 and their product is `storage.count`. Set only through the initializers
    /// and `reshaped`, which hold it.
    public private(set) var shape: [Int]
    public private(set) var storage: Storage

    /// A tensor of values the caller already counted. A shape that does not hold exactly `storage.count` values is
    /// a programming error (a trap); code handling outside data checks first, or uses `init(validating:storage:)`.
    public init(shape: [Int], storage: Storage) {
        self.shape = shape
        self.storage = storage
        precondition(Tensor.product(shape) == storage.count, "shape \(shape) does not hold \(storage.count) values")
    }

    /// A tensor from outside data (a request's shape and values): a 400 naming `what` when the shape is negative,
    /// over `TensorLimits.maxElements`, or does not hold exactly the values given. Never traps.
    public init(validating shape: [Int], storage: Storage, what: @autoclosure () -> String) throws(HedgerowError) {
        let count = try TensorLimits.count(shape, what: what())
        guard count == storage.count else {
            throw HedgerowError(.badRequest, "\(what()): shape \(shape) needs \(count) values, got \(storage.count)")
        }
        self.init(shape: shape, storage: storage)
    }

    /// The product of `shape`'s dimensions (0 if one is 0, whatever the others); nil if one is negative or the
    /// product overflows. Never traps.
    static func product(_ shape: [Int]) -> Int? {
        guard shape.allSatisfy({ $0 >= 0 }) else { return nil }
        if shape.contains(0) { return 0 }
        var product = 1
        for d in shape {
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            product = p
        }
        return product
    }

    public init(shape: [Int], floats: [Float]) { self.init(shape: shape, storage: .float32(floats)) }
    public init(shape: [Int], int64s: [Int64]) { self.init(shape: shape, storage: .int64(int64s)) }
    public init(shape: [Int], int32s: [Int32]) { self.init(shape: shape, storage: .int32(int32s)) }
    public init(shape: [Int], bools: [Bool]) { self.init(shape: shape, storage: .bool(bools)) }
    public init(shape: [Int], strings: [String]) { self.init(shape: shape, storage: .string(strings)) }

    /// Bytes the values take in memory: elements times their size, plus the text of strings too long to be held
    /// inline.
    public var bytes: Int {
        guard case .string(let values) = storage else { return count * elementType.size }
        return values.reduce(count * elementType.size) { $0 + ($1.utf8.count > 15 ? $1.utf8.count : 0) }
    }

    public var elementType: ElementType { storage.elementType }

    /// The number of elements: the storage's count, equal to the shape's product by the invariant.
    public var count: Int { storage.count }

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

    public func bools(_ what: @autoclosure () -> String) throws(HedgerowError) -> [Bool] {
        guard case .bool(let values) = storage else {
            throw HedgerowError(.badRequest, "\(what()) must be bool, got \(elementType)")
        }
        return values
    }

    public func strings(_ what: @autoclosure () -> String) throws(HedgerowError) -> [String] {
        guard case .string(let values) = storage else {
            throw HedgerowError(.badRequest, "\(what()) must be strings (BYTES), got \(elementType)")
        }
        return values
    }

    /// Integer values of an int64 or int32 tensor (shapes, axes, indices), as `Int` (64 bits on every platform
    /// Hedgerow builds for, so the conversion is exact). They are data: callers check them before arithmetic.
    public func integers(_ what: @autoclosure () -> String) throws(HedgerowError) -> [Int] {
        switch storage {
        case .int64(let v): return v.map { Int($0) }
        case .int32(let v): return v.map { Int($0) }
        default: throw HedgerowError(.badRequest, "\(what()) must be int64 or int32, got \(elementType)")
        }
    }

    /// A tensor of zeros (false, empty strings) of a type and shape. The shape must be valid (`TensorLimits.validCount`): the
    /// warm-up builds it from input signatures, which `ModelLoader` checks at load.
    public static func zeros(_ type: ElementType, shape: [Int]) -> Tensor {
        guard let n = TensorLimits.validCount(shape) else { preconditionFailure("zeros of invalid shape \(shape)") }
        switch type {
        case .float32: return Tensor(shape: shape, floats: [Float](repeating: 0, count: n))
        case .int64: return Tensor(shape: shape, int64s: [Int64](repeating: 0, count: n))
        case .int32: return Tensor(shape: shape, int32s: [Int32](repeating: 0, count: n))
        case .bool: return Tensor(shape: shape, bools: [Bool](repeating: false, count: n))
        case .string: return Tensor(shape: shape, strings: [String](repeating: "", count: n))
        }
    }

    /// The same values under another shape with the same element count (the caller has checked it; kernels
    /// compare with `TensorLimits.count` first).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.product(newShape) == count, "cannot view \(shape) as \(newShape)")
        var copy = self
        copy.shape = newShape
        return copy
    }

    /// A tensor of `shape` whose element `i` is this tensor's element `indices[i]`: every data-movement operator
    /// (Transpose, Slice, Gather, Expand, Split, …) computes its indices once and uses this for any element type.
    /// Callers compute `indices` from valid shapes, so each is inside the storage and their count is `shape`'s.
    func picking(_ indices: [Int], shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: storage.picking(indices))
    }

    /// The elements at `start + Σ index[d]·strides[d]` for every index of `shape` (see `Array.strided`).
    func strided(shape: [Int], strides: [Int], start: Int = 0) -> Tensor {
        Tensor(shape: shape, storage: storage.strided(shape: shape, strides: strides, start: start))
    }
}

extension Tensor.Storage {
    var count: Int {
        switch self {
        case .float32(let v): v.count
        case .int64(let v): v.count
        case .int32(let v): v.count
        case .bool(let v): v.count
        case .string(let v): v.count
        }
    }

    var elementType: ElementType {
        switch self {
        case .float32: .float32
        case .int64: .int64
        case .int32: .int32
        case .bool: .bool
        case .string: .string
        }
    }

    func picking(_ indices: [Int]) -> Tensor.Storage {
        switch self {
        case .float32(let v): .float32(indices.map { v[$0] })
        case .int64(let v): .int64(indices.map { v[$0] })
        case .int32(let v): .int32(indices.map { v[$0] })
        case .bool(let v): .bool(indices.map { v[$0] })
        case .string(let v): .string(indices.map { v[$0] })
        }
    }

    func strided(shape: [Int], strides: [Int], start: Int) -> Tensor.Storage {
        switch self {
        case .float32(let v): .float32(v.strided(shape: shape, strides: strides, start: start))
        case .int64(let v): .int64(v.strided(shape: shape, strides: strides, start: start))
        case .int32(let v): .int32(v.strided(shape: shape, strides: strides, start: start))
        case .bool(let v): .bool(v.strided(shape: shape, strides: strides, start: start))
        case .string(let v): .string(v.strided(shape: shape, strides: strides, start: start))
        }
    }

    /// The first element repeated `count` times (the storage holds at least one element).
    func repeating(count: Int) -> Tensor.Storage {
        switch self {
        case .float32(let v): .float32([Float](repeating: v[0], count: count))
        case .int64(let v): .int64([Int64](repeating: v[0], count: count))
        case .int32(let v): .int32([Int32](repeating: v[0], count: count))
        case .bool(let v): .bool([Bool](repeating: v[0], count: count))
        case .string(let v): .string([String](repeating: v[0], count: count))
        }
    }

    /// The values of several storages of one type, one after the other; nil if the types differ.
    static func joined(_ parts: [Tensor.Storage]) -> Tensor.Storage? {
        guard let first = parts.first else { return nil }
        switch first {
        case .float32:
            var out: [Float] = []
            for p in parts { guard case .float32(let v) = p else { return nil }; out += v }
            return .float32(out)
        case .int64:
            var out: [Int64] = []
            for p in parts { guard case .int64(let v) = p else { return nil }; out += v }
            return .int64(out)
        case .int32:
            var out: [Int32] = []
            for p in parts { guard case .int32(let v) = p else { return nil }; out += v }
            return .int32(out)
        case .bool:
            var out: [Bool] = []
            for p in parts { guard case .bool(let v) = p else { return nil }; out += v }
            return .bool(out)
        case .string:
            var out: [String] = []
            for p in parts { guard case .string(let v) = p else { return nil }; out += v }
            return .string(out)
        }
    }
}
