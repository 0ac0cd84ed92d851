import Foundation
import HedgerowCore
import HedgerowRuntime

/// Nested JSON lists → tensors, shared by the TensorFlow Serving and KServe codecs.
///
/// Every byte of a request body is hostile. What holds here: nothing is allocated whose size was computed from the
/// request before that size was checked (products of dimensions use overflow-reporting arithmetic, see
/// `RequestShape`); recursion depth is bounded by `RequestShape.maxRank` (`JSONReader` already refuses JSON
/// nested deeper than 512); every refusal is a `.badRequest` naming the input.
enum TensorJSON {
    /// Parses a request body into a JSON object, or a 400 that says what is wrong.
    static func object(_ body: Data) throws(HedgerowError) -> JSONNode {
        let parsed: JSONNode
        do {
            parsed = try body.withUnsafeBytes { bytes in try JSONReader.parse(bytes) }
        } catch {
            let reason = (error as? JSONReader.Failure)?.message ?? "\(error)"
            let text = String(decoding: body.prefix(1 << 20), as: UTF8.self)
            let nonFinite = text.contains("NaN") || text.contains("Infinity")
            throw HedgerowError(.badRequest, "malformed JSON body: \(reason)\(nonFinite ? " (NaN and Infinity are not JSON numbers; send finite values)" : "")")
        }
        guard parsed.isObject else {
            throw HedgerowError(.badRequest, "request body must be a JSON object")
        }
        return parsed
    }

    typealias Flattened = JSONNode.Flattened

    /// Flattens a (possibly nested) JSON list of numbers (with `text`, of strings) into values and a shape.
    /// Ragged lists, elements of the other kind and nesting deeper than `RequestShape.maxRank` are 400s naming
    /// `what`.
    static func flatten(_ value: JSONNode, what: String, text: Bool = false) throws(HedgerowError) -> Flattened {
        do {
            return try value.flattened(maxDepth: RequestShape.maxRank, text: text)
        } catch {
            switch error {
            case .ragged(let a, let b): throw HedgerowError(.badRequest, "\(what): ragged nested list (rows of shapes \(a) and \(b))")
            case .notANumber(let kind): throw HedgerowError(.badRequest, "\(what): expected numbers, found \(kind)")
            case .notAString(let kind): throw HedgerowError(.badRequest, "\(what): expected strings (BYTES), found \(kind)")
            case .tooDeep:
                throw HedgerowError(.badRequest, "\(what): lists nested deeper than \(RequestShape.maxRank) levels; no model input has that many dimensions")
            }
        }
    }

    /// Flattens a value for `signature`: strings for a BYTES input, numbers for the others.
    static func flatten(_ value: JSONNode, for signature: TensorSignature) throws(HedgerowError) -> Flattened {
        try flatten(value, what: "input '\(signature.name)'", text: signature.elementType == .string)
    }

    /// Builds a tensor of the signature's element type from parsed values. `shape` has been checked against the
    /// signature and against `values.count` (`RequestShape.check`), so the tensor's own precondition holds.
    static func tensor(_ flat: Flattened, shape: [Int], for signature: TensorSignature) throws(HedgerowError) -> Tensor {
        let values = flat.values
        if signature.elementType == .string {
            return Tensor(shape: shape, strings: flat.strings)
        }
        if signature.elementType != .bool, let i = flat.firstBoolean {
            throw HedgerowError(.badRequest, "input '\(signature.name)': element \(i) is a boolean; \(signature.elementType) expects numbers")
        }
        switch signature.elementType {
        case .float32:
            let floats = values.map { Float($0) }
            if let i = floats.firstIndex(where: { !$0.isFinite }) {
                throw HedgerowError(.badRequest, "input '\(signature.name)': element \(i) is \(values[i]), outside float32's range\(signature.wireType.map { " (Hedgerow computes \($0) inputs in float32)" } ?? "")")
            }
            return Tensor(shape: shape, floats: floats)
        case .int64, .int32:
            // Integers beyond 2^53 cannot come through a Double exactly; refuse them rather than round silently.
            let limit: Double = signature.elementType == .int64 ? 9_007_199_254_740_992 : Double(Int32.max)
            var ints: [Int64] = []
            ints.reserveCapacity(values.count)
            for (i, v) in values.enumerated() {
                guard v.rounded() == v, abs(v) <= limit else {
                    throw HedgerowError(.badRequest, "input '\(signature.name)': element \(i) is \(v); expected integers (\(signature.elementType)) of magnitude at most \(Int64(limit))")
                }
                ints.append(Int64(v))
            }
            return signature.elementType == .int64 ? Tensor(shape: shape, int64s: ints) : Tensor(shape: shape, int32s: ints.map { Int32($0) })
        case .bool:
            // JSON true/false, and 0/1 as numbers.
            if let i = values.firstIndex(where: { $0 != 0 && $0 != 1 }) {
                throw HedgerowError(.badRequest, "input '\(signature.name)': element \(i) is \(values[i]); expected booleans (BOOL: true, false, 0 or 1)")
            }
            return Tensor(shape: shape, bools: values.map { $0 != 0 })
        case .string:
            preconditionFailure("strings are taken above")
        }
    }

    /// The whole path from a flattened JSON value to a tensor for `signature`: the implied shape is checked
    /// against the signature first (its element count is `values.count` by construction).
    static func tensor(_ flat: Flattened, for signature: TensorSignature) throws(HedgerowError) -> Tensor {
        try RequestShape.check(flat.shape, against: signature)
        return try tensor(flat, shape: flat.shape, for: signature)
    }

    /// A (nested) JSON value as the tensor for `signature`: flattened as its type needs, then checked.
    static func tensor(_ value: JSONNode, for signature: TensorSignature) throws(HedgerowError) -> Tensor {
        try tensor(flatten(value, for: signature), for: signature)
    }
}
