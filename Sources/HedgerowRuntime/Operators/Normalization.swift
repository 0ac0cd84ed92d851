import Foundation
import HedgerowCore

/// BatchNormalization (inference), LayerNormalization and InstanceNormalization.
enum Normalization {
    /// Y = (X − mean) / √(var + ε) · scale + B per channel (axis 1), with the running statistics of training.
    static let batchNormalization: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        if try node.int("training_mode", default: 0) != 0 {
            throw ShapeOperators.bad(node, "training mode is not supported for serving; export the model in eval mode")
        }
        let values = try x.floats("BatchNormalization input of node '\(node.label)'")
        guard x.shape.count >= 2 else { throw ShapeOperators.bad(node, "input must have a channel axis, got shape \(x.shape)") }
        let channels = x.shape[1], inner = x.shape[2...].dimensionProduct, batch = x.shape[0]
        var parameters: [[Float]] = []
        for (i, name) in ["scale", "B", "mean", "var"].enumerated() {
            let p = try Operators.input(args, i + 1, of: node).floats("BatchNormalization \(name) of node '\(node.label)'")
            guard p.count == channels else { throw ShapeOperators.bad(node, "\(name) has \(p.count) values for \(channels) channels") }
            parameters.append(p)
        }
        let epsilon = try node.float("epsilon", default: 1e-5)
        // Folded once per call into y = x·a + b per channel.
        let a = (0..<channels).map { parameters[0][$0] / (parameters[3][$0] + epsilon).squareRoot() }
        let b = (0..<channels).map { parameters[1][$0] - parameters[2][$0] * a[$0] }
        var out = [Float].pooledZeros(count: values.count)
        for n in 0..<batch {
            for c in 0..<channels {
                let base = (n * channels + c) * inner, ac = a[c], bc = b[c]
                for i in 0..<inner { out[base + i] = values[base + i] * ac + bc }
            }
        }
        return [Tensor(shape: x.shape, floats: out)]
    }

    /// Normalizes over the axes from `axis` (default -1) to the last, then scales and shifts; the optional
    /// outputs are the mean and the inverse standard deviation.
    static let layerNormalization: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        let values = try x.floats("LayerNormalization input of node '\(node.label)'")
        let axis = try Operators.axis(try node.int("axis", default: -1), rank: x.shape.count, node: node)
        let epsilon = try node.float("epsilon", default: 1e-5)
        let normShape = Array(x.shape[axis...])
        let outer = x.shape[..<axis].dimensionProduct, length = normShape.dimensionProduct
        func parameter(_ index: Int, _ name: String) throws(HedgerowError) -> [Float]? {
            guard index < args.count, let t = args[index] else { return nil }
            let v = try t.floats("LayerNormalization \(name) of node '\(node.label)'")
            guard (try? Broadcast.shape(t.shape, normShape, node: node.label)) == normShape else {
                throw ShapeOperators.bad(node, "\(name) of shape \(t.shape) does not broadcast to \(normShape)")
            }
            guard v.count != length else { return v }
            return Broadcast.indices(of: t.shape, in: normShape).map { v[$0] }
        }
        let scale = try parameter(1, "scale") ?? [Float](repeating: 1, count: length)
        let bias = try parameter(2, "bias") ?? [Float](repeating: 0, count: length)
        var means = [Float](repeating: 0, count: outer), inverses = [Float](repeating: 0, count: outer)
        // Rows in float32 with eight-lane partial sums, so the rounding error grows with length / 8 terms per lane.
        let out = [Float].pooled(count: values.count) { buffer in
            guard length > 0, let output = buffer.baseAddress else { return }
            values.withUnsafeBufferPointer { source in
                scale.withUnsafeBufferPointer { scale in
                    bias.withUnsafeBufferPointer { bias in
                        // Non-nil: the rows, scale and bias all hold length > 0 elements.
                        let (input, g, b) = (source.baseAddress!, scale.baseAddress!, bias.baseAddress!)
                        for o in 0..<outer {
                            let (row, to) = (input + o * length, output + o * length)
                            let mean = FastMath.sum(row, length) / Float(length)
                            let inverse = 1 / (FastMath.squaredDeviations(row, length, from: mean) / Float(length) + epsilon).squareRoot()
                            for i in 0..<length { to[i] = (row[i] - mean) * inverse * g[i] + b[i] }
                            means[o] = mean
                            inverses[o] = inverse
                        }
                    }
                }
            }
        }
        let statisticsShape = Array(x.shape[..<axis]) + [Int](repeating: 1, count: x.shape.count - axis)
        var outputs = [Tensor(shape: x.shape, floats: out)]
        if node.outputs.count > 1 { outputs.append(Tensor(shape: statisticsShape, floats: means)) }
        if node.outputs.count > 2 { outputs.append(Tensor(shape: statisticsShape, floats: inverses)) }
        return outputs
    }

    /// Each (sample, channel) plane normalized over its spatial positions, then scaled and shifted per channel:
    /// X [N, C, …], scale [C], B [C].
    static let instanceNormalization: Kernel = { node, args throws(HedgerowError) in
        let x = try Operators.input(args, 0, of: node)
        let values = try x.floats("InstanceNormalization input of node '\(node.label)'")
        guard x.shape.count >= 3 else { throw ShapeOperators.bad(node, "input must be [N, C, spatial…], got shape \(x.shape)") }
        let channels = x.shape[1], size = x.shape[2...].dimensionProduct
        let scale = try Operators.input(args, 1, of: node).floats("scale"), bias = try Operators.input(args, 2, of: node).floats("B")
        guard scale.count == channels, bias.count == channels else {
            throw ShapeOperators.bad(node, "scale and B need \(channels) values (one per channel), got \(scale.count) and \(bias.count)")
        }
        let epsilon = try node.float("epsilon", default: 1e-5)
        var out = [Float].pooledZeros(count: values.count)
        for plane in 0..<(x.shape[0] * channels) {
            let c = plane % channels, base = plane * size
            var sum: Double = 0
            for i in 0..<size { sum += Double(values[base + i]) }
            let mean = Float(sum / Double(max(size, 1)))
            var squares: Double = 0
            for i in 0..<size { let d = Double(values[base + i] - mean); squares += d * d }
            let factor = scale[c] / (Float(squares / Double(max(size, 1))) + epsilon).squareRoot()
            for i in 0..<size { out[base + i] = (values[base + i] - mean) * factor + bias[c] }
        }
        return [Tensor(shape: x.shape, floats: out)]
    }
}
