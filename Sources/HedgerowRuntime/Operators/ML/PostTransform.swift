import Foundation
import HedgerowCore

/// What a classic-ML model does to its raw scores (`post_transform`), per row, as onnxruntime does it.
enum PostTransform: String, Sendable {
    case none = "NONE"
    case logistic = "LOGISTIC"
    case softmax = "SOFTMAX"
    case softmaxZero = "SOFTMAX_ZERO"
    case probit = "PROBIT"

    init(_ node: Node) throws(HedgerowError) {
        let name = try node.string("post_transform", default: "NONE")
        guard let value = PostTransform(rawValue: name) else {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (\(node.opType)): unknown post_transform '\(name.prefix(40))' (NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO or PROBIT)")
        }
        self = value
    }

    /// Applies the transform to one row of scores in place.
    func apply(_ row: inout ArraySlice<Float>) {
        switch self {
        case .none:
            return
        case .logistic:
            for i in row.indices { row[i] = Self.logistic(row[i]) }
        case .softmax:
            guard let top = row.max() else { return }
            var sum: Float = 0
            for i in row.indices {
                row[i] = Foundation.exp(row[i] - top)
                sum += row[i]
            }
            for i in row.indices { row[i] /= sum }
        case .softmaxZero:
            // As softmax, but scores within 1e-7 of zero stay (about) zero and are left out of the sum.
            guard let top = row.max() else { return }
            var sum: Float = 0
            for i in row.indices {
                if Swift.abs(row[i]) > 1e-7 {
                    row[i] = Foundation.exp(row[i] - top)
                    sum += row[i]
                } else {
                    row[i] *= Foundation.exp(-top)
                }
            }
            if sum > 0 { for i in row.indices { row[i] /= sum } }
        case .probit:
            for i in row.indices { row[i] = Self.probit(row[i]) }
        }
    }

    static func logistic(_ x: Float) -> Float {
        // onnxruntime's form: stable for large |x|.
        let v = 1 / (1 + Foundation.exp(-Swift.abs(x)))
        return x < 0 ? 1 - v : v
    }

    /// √2 · erfinv(2x − 1), with onnxruntime's erfinv approximation.
    static func probit(_ x: Float) -> Float {
        1.41421356 * erfInverse(x * 2 - 1)
    }

    static func erfInverse(_ x: Float) -> Float {
        let sign: Float = x < 0 ? -1 : 1
        let xx = (1 - x) * (1 + x)
        let log = Foundation.log(xx)
        let v1 = 2 / (Float.pi * 0.147) + 0.5 * log
        let v2 = 1 / 0.147 * log
        let v3 = -v1 + (v1 * v1 - v2).squareRoot()
        return sign * v3.squareRoot()
    }
}
