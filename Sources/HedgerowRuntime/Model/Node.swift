import HedgerowCore

/// An attribute value of a node, decoded once at load.
enum AttributeValue: Sendable, Equatable {
    case int(Int)
    case float(Float)
    case ints([Int])
    case floats([Float])
    case string(String)
    case strings([String])
    case tensor(Tensor)
}

/// One graph node after load: its operator, the names it reads and writes, and its attributes.
struct Node: Sendable {
    var name: String
    var opType: String
    var inputs: [String]
    var outputs: [String]
    var attributes: [String: AttributeValue]
    /// The operator's domain: "" (the default, ai.onnx) or "ai.onnx.ml".
    var domain = ""

    /// Node name for messages: its own name, or its first output when unnamed.
    var label: String { name.isEmpty ? "\(opType)→\(outputs.first ?? "?")" : name }

    func int(_ key: String, default value: Int) throws(HedgerowError) -> Int {
        switch attributes[key] {
        case nil: return value
        case .int(let v): return v
        default: throw HedgerowError(.loadFailed, "node '\(label)' (\(opType)): attribute '\(key)' must be an integer")
        }
    }

    func float(_ key: String, default value: Float) throws(HedgerowError) -> Float {
        switch attributes[key] {
        case nil: return value
        case .float(let v): return v
        case .int(let v): return Float(v)
        default: throw HedgerowError(.loadFailed, "node '\(label)' (\(opType)): attribute '\(key)' must be a float")
        }
    }

    func ints(_ key: String) throws(HedgerowError) -> [Int]? {
        switch attributes[key] {
        case nil: return nil
        case .ints(let v): return v
        default: throw HedgerowError(.loadFailed, "node '\(label)' (\(opType)): attribute '\(key)' must be a list of integers")
        }
    }
}

/// A graph input or output as the model declares it. `nil` dimensions are symbolic (the batch dimension, usually).
public struct TensorSignature: Sendable, Equatable {
    public var name: String
    public var elementType: ElementType
    public var shape: [Int?]
    /// For an output the model declares as a sequence of maps (ZipMap's): the map's keys, one per column of the
    /// [N, C] tensor the runtime answers with. Nil for a plain tensor.
    public var mapKeys: [String]?
    /// The KServe v2 datatype the model declares when it is not the one the runtime computes with: "FP64",
    /// "FP16" or "BF16" for a float32 `elementType`. Requests must use it and answers carry it. Nil otherwise.
    public var wireType: String?

    public init(name: String, elementType: ElementType, shape: [Int?], mapKeys: [String]? = nil, wireType: String? = nil) {
        (self.name, self.elementType, self.shape, self.mapKeys, self.wireType) = (name, elementType, shape, mapKeys, wireType)
    }

    /// The datatype clients see: the declared wire type, or the computed one.
    public var datatype: String { wireType ?? elementType.description }

    /// Shape in KServe/TF Serving metadata style: -1 for a dynamic dimension.
    public var metadataShape: [Int] { shape.map { $0 ?? -1 } }

    /// Checks a given tensor against the declared type and shape; the message names the input, the expected and
    /// the given shape.
    public func check(_ tensor: Tensor) throws(HedgerowError) {
        guard tensor.elementType == elementType else {
            throw HedgerowError(.badRequest, "input '\(name)': expected datatype \(elementType), got \(tensor.elementType)")
        }
        let matches = tensor.shape.count == shape.count && zip(tensor.shape, shape).allSatisfy { given, expected in expected == nil || expected == given }
        guard matches else {
            throw HedgerowError(.badRequest, "input '\(name)': expected shape \(metadataShapeText), got \(tensor.shape)")
        }
    }

    var metadataShapeText: String { "[" + shape.map { $0.map(String.init) ?? "N" }.joined(separator: ", ") + "]" }
}

extension Node {
    func string(_ key: String, default value: String) throws(HedgerowError) -> String {
        switch attributes[key] {
        case nil: return value
        case .string(let v): return v
        default: throw HedgerowError(.loadFailed, "node '\(label)' (\(opType)): attribute '\(key)' must be a string")
        }
    }

    func floats(_ key: String) throws(HedgerowError) -> [Float]? {
        switch attributes[key] {
        case nil: return nil
        case .floats(let v): return v
        default: throw HedgerowError(.loadFailed, "node '\(label)' (\(opType)): attribute '\(key)' must be a list of floats")
        }
    }

    func tensor(_ key: String) throws(HedgerowError) -> Tensor? {
        switch attributes[key] {
        case nil: return nil
        case .tensor(let v): return v
        default: throw HedgerowError(.loadFailed, "node '\(label)' (\(opType)): attribute '\(key)' must be a tensor")
        }
    }

    func strings(_ key: String) throws(HedgerowError) -> [String]? {
        switch attributes[key] {
        case nil: return nil
        case .strings(let v): return v
        default: throw HedgerowError(.loadFailed, "node '\(label)' (\(opType)): attribute '\(key)' must be a list of strings")
        }
    }
}
