import Foundation
import HedgerowCore
import HedgerowRuntime

/// Nested JSON lists ↔ tensors, shared by the TensorFlow Serving and KServe codecs.
enum TensorJSON {
    /// Parses a request body into a JSON object, or a 400 that says what is wrong.
    static func object(_ body: Data) throws(HedgerowError) -> [String: Any] {
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            let text = String(decoding: body, as: UTF8.self)
            let nonFinite = text.contains("NaN") || text.contains("Infinity")
            throw HedgerowError(.badRequest, "malformed JSON body: \(detail)\(nonFinite ? " (NaN and Infinity are not JSON numbers; send finite values)" : "")")
        }
        guard let object = parsed as? [String: Any] else {
            throw HedgerowError(.badRequest, "request body must be a JSON object")
        }
        return object
    }

    /// Flattens a (possibly nested) JSON list of numbers into values and a shape. Ragged lists and non-numbers
    /// are 400s naming `what`.
    static func flatten(_ value: Any, what: String) throws(HedgerowError) -> (values: [Double], shape: [Int]) {
        var values: [Double] = []
        let shape = try flatten(value, into: &values, what: what)
        return (values, shape)
    }

    private static func flatten(_ value: Any, into values: inout [Double], what: String) throws(HedgerowError) -> [Int] {
        if let list = value as? [Any] {
            var childShape: [Int]?
            for element in list {
                let shape = try flatten(element, into: &values, what: what)
                if let childShape, childShape != shape {
                    throw HedgerowError(.badRequest, "\(what): ragged nested list (rows of shapes \(childShape) and \(shape))")
                }
                childShape = shape
            }
            return [list.count] + (childShape ?? [])
        }
        if let number = value as? NSNumber {
            values.append(number.doubleValue)
            return []
        }
        throw HedgerowError(.badRequest, "\(what): expected numbers, found \(describe(value))")
    }

    static func describe(_ value: Any) -> String {
        switch value {
        case is String: "a string"
        case is [String: Any]: "an object"
        case is NSNull: "null"
        default: "\(type(of: value))"
        }
    }

    /// Builds a tensor of the signature's element type from parsed values.
    static func tensor(_ values: [Double], shape: [Int], for signature: TensorSignature) throws(HedgerowError) -> Tensor {
        switch signature.elementType {
        case .float32:
            let floats = values.map { Float($0) }
            if let i = floats.firstIndex(where: { !$0.isFinite }) {
                throw HedgerowError(.badRequest, "input '\(signature.name)': element \(i) is \(values[i]), outside float32's range")
            }
            return Tensor(shape: shape, floats: floats)
        case .int64, .int32:
            let limit: Double = signature.elementType == .int64 ? 9_007_199_254_740_992 : Double(Int32.max)
            var ints: [Int64] = []
            ints.reserveCapacity(values.count)
            for v in values {
                guard v.rounded() == v, abs(v) <= limit else {
                    throw HedgerowError(.badRequest, "input '\(signature.name)': expected integers (\(signature.elementType)), got \(v)")
                }
                ints.append(Int64(v))
            }
            return signature.elementType == .int64 ? Tensor(shape: shape, int64s: ints) : Tensor(shape: shape, int32s: ints.map { Int32($0) })
        case .bool:
            // JSON true/false (and 0/1) arrive as numbers.
            guard values.allSatisfy({ $0 == 0 || $0 == 1 }) else {
                throw HedgerowError(.badRequest, "input '\(signature.name)': expected booleans (BOOL)")
            }
            return Tensor(shape: shape, bools: values.map { $0 != 0 })
        }
    }

    /// Appends a tensor as a nested JSON list (dimension `from` onward, starting at element `offset`).
    static func appendNested(_ tensor: Tensor, from dim: Int = 0, offset: Int = 0, to out: inout String) {
        if dim == tensor.shape.count {
            appendScalar(tensor, at: offset, to: &out)
            return
        }
        let stride = tensor.shape[(dim + 1)...].reduce(1, *)
        out.append("[")
        for i in 0..<tensor.shape[dim] {
            if i > 0 { out.append(",") }
            appendNested(tensor, from: dim + 1, offset: offset + i * stride, to: &out)
        }
        out.append("]")
    }

    /// Appends every element as one flat JSON list (KServe v2 `data`).
    static func appendFlat(_ tensor: Tensor, to out: inout String) {
        out.append("[")
        for i in 0..<tensor.count {
            if i > 0 { out.append(",") }
            appendScalar(tensor, at: i, to: &out)
        }
        out.append("]")
    }

    /// Non-finite floats have no JSON form; they are written as null.
    static func appendScalar(_ tensor: Tensor, at index: Int, to out: inout String) {
        switch tensor.storage {
        case .float32(let v):
            let x = v[index]
            out.append(x.isFinite ? x.description : "null")
        case .int64(let v):
            out.append(String(v[index]))
        case .int32(let v):
            out.append(String(v[index]))
        case .bool(let v):
            out.append(v[index] ? "true" : "false")
        }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            default:
                if scalar.value < 0x20 { out.append(String(format: "\\u%04x", scalar.value)) } else { out.unicodeScalars.append(scalar) }
            }
        }
        out.append("\"")
        return out
    }
}
