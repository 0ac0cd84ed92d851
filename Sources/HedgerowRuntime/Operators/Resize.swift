import Foundation
import HedgerowCore

/// Resize (opsets 10–19, and Upsample): nearest, linear and cubic, with every coordinate transformation mode
/// (half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize, and opsets
/// 11–12's tf_half_pixel_for_nn) and
/// nearest rounding mode. Each mode is separable, so the tensor is resized one axis at a time: per axis, every
/// output coordinate gets its input taps and weights once, then each line is a weighted sum of its taps.
/// Scales and sizes are data: the output shape is checked against `TensorLimits` before anything is built.
enum Resize {
    enum Mode: String { case nearest, linear, cubic }

    struct Options {
        var mode: Mode
        var transform: String
        var nearest: String
        var cubicA: Float
        var excludeOutside: Bool
        var extrapolation: Float
    }

    static func kernel(opset: Int, upsample: Bool = false) -> Kernel {
        { node, args throws(HedgerowError) in
            let x = try Operators.input(args, 0, of: node)
            let values = try x.floats("\(node.opType) input of node '\(node.label)'")
            let rank = x.shape.count
            let modeName = try node.string("mode", default: "nearest")
            guard let mode = Mode(rawValue: modeName == "bilinear" ? "linear" : modeName) else {
                throw ShapeOperators.bad(node, "mode must be nearest, linear or cubic, got '\(modeName.prefix(40))'")
            }
            if try node.int("antialias", default: 0) != 0 { throw ShapeOperators.bad(node, "antialias is not supported") }
            let options = Options(
                mode: mode, transform: try node.string("coordinate_transformation_mode", default: opset < 11 ? "asymmetric" : "half_pixel"),
                nearest: try node.string("nearest_mode", default: opset < 11 ? "floor" : "round_prefer_floor"),
                cubicA: try node.float("cubic_coeff_a", default: -0.75), excludeOutside: try node.int("exclude_outside", default: 0) != 0,
                extrapolation: try node.float("extrapolation_value", default: 0))
            let known = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize", "tf_half_pixel_for_nn"]
            guard known.contains(options.transform) else { throw ShapeOperators.bad(node, "unknown coordinate_transformation_mode '\(options.transform.prefix(40))'") }
            guard ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"].contains(options.nearest) else {
                throw ShapeOperators.bad(node, "unknown nearest_mode '\(options.nearest.prefix(40))'")
            }
            func optional(_ i: Int) -> Tensor? { i < args.count ? args[i].flatMap { $0.count == 0 ? nil : $0 } : nil }
            var axes = Array(0..<rank)
            if let given = try node.ints("axes") {
                axes = try given.map { a throws(HedgerowError) in try Operators.axis(a, rank: rank, node: node) }
            }
            // Scales: an attribute (Upsample 7–8), input 1 (Resize 10, Upsample 9), input 2 (Resize 11+); sizes: input 3.
            let scalesTensor = upsample && opset < 9 ? nil : optional(opset < 11 || upsample ? 1 : 2)
            var scales = try node.floats("scales")
            if let scalesTensor { scales = try scalesTensor.floats("scales of node '\(node.label)'") }
            let sizes = opset < 11 || upsample ? nil : try optional(3)?.integers("sizes of node '\(node.label)'")
            let roi = opset < 11 || upsample ? nil : try optional(1).map { t throws(HedgerowError) in try Cast.convert(t, to: .float32, node: node).floats("roi") }
            var shape = x.shape
            if let sizes {
                guard sizes.count == axes.count, sizes.allSatisfy({ (0...TensorLimits.maxElements).contains($0) }) else {
                    throw ShapeOperators.bad(node, "sizes \(TensorLimits.describe(sizes)) must give one size ≥ 0 per resized axis (\(axes.count))")
                }
                var s = axes.enumerated().map { Float(sizes[$0.offset]) / Float(max(x.shape[$0.element], 1)) }
                let policy = try node.string("keep_aspect_ratio_policy", default: "stretch")
                if policy == "not_larger" || policy == "not_smaller" {
                    let one = policy == "not_larger" ? (s.min() ?? 1) : (s.max() ?? 1)
                    s = s.map { _ in one }
                    for a in axes { shape[a] = Int((one * Float(x.shape[a])).rounded()) }
                } else {
                    for (i, a) in axes.enumerated() { shape[a] = sizes[i] }
                }
                scales = s
            } else if let given = scales {
                guard given.count == axes.count, given.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                    throw ShapeOperators.bad(node, "scales must give one positive scale per resized axis (\(axes.count)), got \(given.count)")
                }
                for (i, a) in axes.enumerated() {
                    let size = (Double(x.shape[a]) * Double(given[i])).rounded(.down)
                    guard size <= Double(TensorLimits.maxElements) else { throw ShapeOperators.bad(node, "scale \(given[i]) makes axis \(a) too large") }
                    shape[a] = Int(size)
                }
            } else {
                throw ShapeOperators.bad(node, "needs scales or sizes")
            }
            _ = try TensorLimits.count(shape, node: node)
            var current = values, currentShape = x.shape
            for (i, axis) in axes.enumerated() where shape[axis] != x.shape[axis] || options.transform == "tf_crop_and_resize" || (scales?[i] ?? 1) != 1 {
                let start = roi.flatMap { $0.count == 2 * axes.count ? $0[i] : ($0.count == 2 * rank ? $0[axis] : nil) } ?? 0
                let end = roi.flatMap { $0.count == 2 * axes.count ? $0[axes.count + i] : ($0.count == 2 * rank ? $0[rank + axis] : nil) } ?? 1
                let taps = Self.taps(input: x.shape[axis], output: shape[axis], scale: scales?[i] ?? 1, roi: (start, end), options)
                (current, currentShape) = apply(taps, along: axis, of: current, shape: currentShape, extrapolation: options.extrapolation)
            }
            return [Tensor(shape: shape, floats: current)]
        }
    }

    /// One output coordinate's input positions and weights; an empty list means the extrapolation value.
    typealias Taps = [[(index: Int, weight: Float)]]

    static func taps(input: Int, output: Int, scale: Float, roi: (Float, Float), _ o: Options) -> Taps {
        (0..<output).map { r in
            let x = original(Float(r), input: input, output: output, scale: scale, roi: roi, o.transform)
            if o.transform == "tf_crop_and_resize" && (x < 0 || x > Float(input - 1)) { return [] }
            guard input > 0 else { return [] }
            switch o.mode {
            case .nearest:
                let f = x.rounded(.down), frac = x - f
                var n: Float
                switch o.nearest {
                case "floor": n = f
                case "ceil": n = x.rounded(.up)
                case "round_prefer_ceil": n = frac == 0.5 ? f + 1 : x.rounded()
                default: n = frac == 0.5 ? f : x.rounded()
                }
                return [(clamp(n, input), 1)]
            case .linear:
                let c = Swift.min(Swift.max(x, 0), Float(input - 1))
                let lo = c.rounded(.down), t = c - lo
                let i = clamp(lo, input)
                return t == 0 ? [(i, Float(1))] : [(i, 1 - t), (clamp(lo + 1, input), t)]
            case .cubic:
                let lo = x.rounded(.down), t = x - lo, a = o.cubicA
                let weights = [cubic(t + 1, a), cubic(t, a), cubic(1 - t, a), cubic(2 - t, a)]
                var list: [(index: Int, weight: Float)] = []
                for (k, w) in weights.enumerated() {
                    let at = Int(lo) + k - 1
                    if o.excludeOutside && (at < 0 || at >= input) { continue }
                    list.append((Swift.min(Swift.max(at, 0), input - 1), w))
                }
                if o.excludeOutside {
                    let sum = list.reduce(0) { $0 + $1.weight }
                    if sum != 0 { list = list.map { ($0.index, $0.weight / sum) } }
                }
                return list
            }
        }
    }

    /// Keys' cubic convolution kernel at distance `d` with coefficient `a`.
    static func cubic(_ d: Float, _ a: Float) -> Float {
        let x = Swift.abs(d)
        if x <= 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return 0
    }

    /// The input coordinate of output coordinate `r` (ONNX's formulas per coordinate_transformation_mode).
    static func original(_ r: Float, input: Int, output: Int, scale: Float, roi: (Float, Float), _ transform: String) -> Float {
        let inLength = Float(input), outLength = Float(output)
        switch transform {
        case "asymmetric": return r / scale
        // The resized length as the scale gives it, before flooring (as the ONNX reference computes it).
        case "align_corners":
            let resized = inLength * scale
            return output == 1 || resized == 1 ? 0 : r * (inLength - 1) / (resized - 1)
        case "tf_half_pixel_for_nn": return (r + 0.5) / scale
        case "pytorch_half_pixel": return output > 1 ? (r + 0.5) / scale - 0.5 : 0
        case "half_pixel_symmetric":
            let adjustment = outLength / (scale * inLength)
            let offset = inLength / 2 * (1 - adjustment)
            return offset + (r + 0.5) / scale - 0.5
        case "tf_crop_and_resize":
            let (start, end) = roi
            return output > 1 ? start * (inLength - 1) + r * (end - start) * (inLength - 1) / (outLength - 1) : 0.5 * (start + end) * (inLength - 1)
        default: return (r + 0.5) / scale - 0.5
        }
    }

    private static func clamp(_ f: Float, _ size: Int) -> Int {
        f.isNaN ? 0 : Int(Swift.min(Swift.max(f, 0), Float(size - 1)))
    }

    /// Resizes one axis: each output line is its taps' weighted sum (added in the taps' order, from 0). The taps
    /// are flattened into arrays first: walking the nested lists per element cost more than the arithmetic.
    static func apply(_ taps: Taps, along axis: Int, of values: [Float], shape: [Int], extrapolation: Float) -> ([Float], [Int]) {
        let outer = shape[..<axis].dimensionProduct, inner = shape[(axis + 1)...].dimensionProduct, length = shape[axis]
        var newShape = shape
        newShape[axis] = taps.count
        var starts = [0], indices: [Int] = [], weights: [Float] = []
        for list in taps {
            for (index, weight) in list { indices.append(index); weights.append(weight) }
            starts.append(indices.count)
        }
        let lines = taps.count
        var result = [Float].pooledZeros(count: outer * lines * inner)
        guard !result.isEmpty else { return (result, newShape) }
        result.withUnsafeMutableBufferPointer { buffer in
            values.withUnsafeBufferPointer { source in
                // Non-nil: the output is non-empty; the source is read only through taps, which exist only when
                // the axis (and so the input) is non-empty.
                let to = buffer.baseAddress!
                for o in 0..<outer {
                    for r in 0..<lines {
                        let destination = to + (o * lines + r) * inner
                        guard starts[r] < starts[r + 1] else {
                            destination.update(repeating: extrapolation, count: inner)
                            continue
                        }
                        let from = source.baseAddress! + o * length * inner
                        if inner == 1 {
                            var sum: Float = 0
                            for t in starts[r]..<starts[r + 1] { sum += weights[t] * from[indices[t]] }
                            destination.pointee = sum
                        } else {
                            for t in starts[r]..<starts[r + 1] {
                                let (line, weight) = (from + indices[t] * inner, weights[t])
                                for i in 0..<inner { destination[i] += weight * line[i] }
                            }
                        }
                    }
                }
            }
        }
        return (result, newShape)
    }
}
