import Foundation
import HedgerowRuntime

/// Tensors → JSON text, for both codecs' answers.
///
/// The tensors come from the runtime, whose `Tensor` holds exactly `count` values; a hostile model can still
/// produce shapes like `[0, 2^40, 2^40]` (no values, an overflowing trailing product), so strides come from
/// `RequestShape.stride`, which never traps, and an empty dimension writes `[]` without computing one.
enum TensorJSONWriter {
    /// Appends a tensor as a nested JSON list (dimension `from` onward, starting at element `offset`). With
    /// `mapKeys` (a ZipMap output), the last dimension is written as objects, key → value, when it has one
    /// element per key.
    static func appendNested(_ tensor: Tensor, from dim: Int = 0, offset: Int = 0, mapKeys: [String]? = nil, to out: inout String) {
        if dim >= tensor.shape.count {
            appendScalar(tensor, at: offset, to: &out)
            return
        }
        let size = tensor.shape[dim]
        if let mapKeys, dim == tensor.shape.count - 1, size == mapKeys.count {
            out.append("{")
            for (i, key) in mapKeys.enumerated() {
                if i > 0 { out.append(",") }
                out.append(quoted(key) + ":")
                appendScalar(tensor, at: offset + i, to: &out)
            }
            out.append("}")
            return
        }
        out.append("[")
        if size > 0 {
            let stride = RequestShape.stride(tensor.shape, from: dim + 1)
            for i in 0..<size {
                if i > 0 { out.append(",") }
                appendNested(tensor, from: dim + 1, offset: offset + i * stride, mapKeys: mapKeys, to: &out)
            }
        }
        out.append("]")
    }

    /// Appends every element as one flat JSON list (KServe v2 `data`).
    /// Walks the storage itself (never `shape`), so the index is in bounds by construction.
    static func appendFlat(_ tensor: Tensor, to out: inout String) {
        out.append("[")
        switch tensor.storage {
        case .float32(let v): append(v, to: &out) { $0.isFinite ? $0.description : "null" }
        case .int64(let v): append(v, to: &out) { String($0) }
        case .int32(let v): append(v, to: &out) { String($0) }
        case .bool(let v): append(v, to: &out) { $0 ? "true" : "false" }
        case .string(let v): append(v, to: &out) { quoted($0) }
        }
        out.append("]")
    }

    private static func append<T>(_ values: [T], to out: inout String, _ text: (T) -> String) {
        for (i, value) in values.enumerated() {
            if i > 0 { out.append(",") }
            out.append(text(value))
        }
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
        case .string(let v):
            out.append(quoted(v[index]))
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
