import Foundation
import HedgerowCore

/// LSTM and GRU (forward, reverse, bidirectional; `layout` 0 and 1; `sequence_lens`; initial states; LSTM
/// peepholes and `input_forget`; GRU `linear_before_reset`; `clip`; the activation functions the spec names).
/// The input projection X·Wᵀ of every time step is one GEMM per direction; each step then adds H·Rᵀ (one more
/// GEMM) and the biases, and applies the gates. Shapes are checked against `hidden_size` before anything runs.
enum Recurrent {
    enum Cell { case lstm, gru }

    /// Gates per cell: LSTM i, o, f, c; GRU z, r, h.
    static func gates(_ cell: Cell) -> Int { cell == .lstm ? 4 : 3 }

    static let lstm: Kernel = { node, args throws(HedgerowError) in try run(.lstm, node, args) }
    static let gru: Kernel = { node, args throws(HedgerowError) in try run(.gru, node, args) }

    /// An activation by its ONNX name with its α and β (the spec's defaults when the node gives none).
    static func activation(_ name: String, alpha: Float?, beta: Float?, node: Node) throws(HedgerowError) -> @Sendable (Float) -> Float {
        switch name.lowercased() {
        case "sigmoid": return { x in x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x)) }
        case "tanh": return { tanhf($0) }
        case "relu": return { Swift.max($0, 0) }
        case "hardsigmoid":
            let (a, b) = (alpha ?? 0.2, beta ?? 0.5)
            return { Swift.max(0, Swift.min(1, a * $0 + b)) }
        case "leakyrelu":
            let a = alpha ?? 0.01
            return { $0 >= 0 ? $0 : a * $0 }
        case "thresholdedrelu":
            let a = alpha ?? 1
            return { $0 > a ? $0 : 0 }
        case "scaledtanh":
            let (a, b) = (alpha ?? 1, beta ?? 1)
            return { a * tanhf(b * $0) }
        case "affine":
            let (a, b) = (alpha ?? 1, beta ?? 0)
            return { a * $0 + b }
        case "elu":
            let a = alpha ?? 1
            return { $0 >= 0 ? $0 : a * (expf($0) - 1) }
        case "softsign": return { $0 / (1 + Swift.abs($0)) }
        case "softplus": return { logf(1 + expf($0)) }
        default: throw ShapeOperators.bad(node, "unknown activation '\(name.prefix(40))'")
        }
    }

    static func run(_ cell: Cell, _ node: Node, _ args: [Tensor?]) throws(HedgerowError) -> [Tensor] {
        func optional(_ i: Int, _ name: String) throws(HedgerowError) -> [Float]? {
            guard i < args.count, let t = args[i], t.count > 0 else { return nil }
            return try t.floats("\(node.opType) \(name) of node '\(node.label)'")
        }
        let xTensor = try Operators.input(args, 0, of: node)
        let x = try xTensor.floats("\(node.opType) X of node '\(node.label)'")
        let w = try Operators.input(args, 1, of: node), r = try Operators.input(args, 2, of: node)
        let hidden = try node.int("hidden_size", default: r.shape.last ?? 0)
        let direction = try node.string("direction", default: "forward")
        guard ["forward", "reverse", "bidirectional"].contains(direction) else { throw ShapeOperators.bad(node, "unknown direction '\(direction.prefix(40))'") }
        let directions = direction == "bidirectional" ? 2 : 1
        let layout = try node.int("layout", default: 0)
        guard xTensor.shape.count == 3, layout == 0 || layout == 1 else { throw ShapeOperators.bad(node, "X must be 3-D (layout 0 or 1), got shape \(xTensor.shape)") }
        let (steps, batch, inputSize) = layout == 0 ? (xTensor.shape[0], xTensor.shape[1], xTensor.shape[2]) : (xTensor.shape[1], xTensor.shape[0], xTensor.shape[2])
        let g = gates(cell)
        guard hidden > 0, hidden <= TensorLimits.maxElements, w.shape == [directions, g * hidden, inputSize], r.shape == [directions, g * hidden, hidden] else {
            throw ShapeOperators.bad(node, "W \(w.shape) and R \(r.shape) must be [\(directions), \(g)·\(hidden), \(inputSize)] and [\(directions), \(g)·\(hidden), \(hidden)]")
        }
        _ = try TensorLimits.count([steps, directions, batch, hidden], node: node)
        _ = try TensorLimits.count([steps, batch, g * hidden], node: node, "input projection shape")
        let weights = try w.floats("W"), recurrence = try r.floats("R")
        let bias = try optional(3, "B")
        guard bias == nil || bias?.count == directions * 2 * g * hidden else { throw ShapeOperators.bad(node, "B must hold \(directions * 2 * g * hidden) values") }
        var lengths = [Int](repeating: steps, count: batch)
        if args.count > 4, let s = args[4], s.count > 0 {
            lengths = try s.integers("sequence_lens of node '\(node.label)'")
            guard lengths.count == batch, lengths.allSatisfy({ (0...steps).contains($0) }) else {
                throw ShapeOperators.bad(node, "sequence_lens must give each of the \(batch) sequences a length from 0 to \(steps)")
            }
        }
        let stateCount = directions * batch * hidden
        let initialH = try optional(5, "initial_h"), initialC = cell == .lstm ? try optional(6, "initial_c") : nil
        let peepholes = cell == .lstm ? try optional(7, "P") : nil
        for (name, values, size) in [("initial_h", initialH, stateCount), ("initial_c", initialC, stateCount), ("P", peepholes, directions * 3 * hidden)] {
            if let values, values.count != size { throw ShapeOperators.bad(node, "\(name) must hold \(size) values, got \(values.count)") }
        }
        // Activations: f, g (and h for LSTM) per direction.
        let perDirection = cell == .lstm ? 3 : 2
        let names = try node.strings("activations") ?? []
        let defaults = cell == .lstm ? ["Sigmoid", "Tanh", "Tanh"] : ["Sigmoid", "Tanh"]
        let alphas = try node.floats("activation_alpha") ?? [], betas = try node.floats("activation_beta") ?? []
        var functions: [@Sendable (Float) -> Float] = []
        for i in 0..<(perDirection * directions) {
            let name = names.isEmpty ? defaults[i % perDirection] : (i < names.count ? names[i] : "")
            functions.append(try activation(name, alpha: i < alphas.count ? alphas[i] : nil, beta: i < betas.count ? betas[i] : nil, node: node))
        }
        let clip = try node.float("clip", default: .infinity)
        let inputForget = try node.int("input_forget", default: 0) != 0
        let linearBeforeReset = try node.int("linear_before_reset", default: 0) != 0

        var y = [Float](repeating: 0, count: steps * directions * batch * hidden)
        var lastH = [Float](repeating: 0, count: stateCount), lastC = [Float](repeating: 0, count: stateCount)
        // X in time-major order, [steps·batch, inputSize].
        var xs = x
        if layout == 1 {
            for t in 0..<steps { for b in 0..<batch { for i in 0..<inputSize { xs[(t * batch + b) * inputSize + i] = x[(b * steps + t) * inputSize + i] } } }
        }
        for d in 0..<directions {
            let reverse = direction == "reverse" || d == 1
            let gw = g * hidden
            // Projection of every step at once: [steps·batch, inputSize] × Wᵀ → [steps·batch, g·hidden].
            var projected = [Float](repeating: 0, count: steps * batch * gw)
            if !projected.isEmpty && inputSize > 0 {
                xs.withUnsafeBufferPointer { a in weights.withUnsafeBufferPointer { wb in projected.withUnsafeMutableBufferPointer { c in
                    BLAS.sgemm(transA: false, transB: true, m: steps * batch, n: gw, k: inputSize, alpha: 1, a: a.baseAddress!, lda: inputSize,
                               b: wb.baseAddress! + d * gw * inputSize, ldb: inputSize, beta: 0, c: c.baseAddress!, ldc: gw)
                } } }
            }
            let wb = bias.map { Array($0[(d * 2 * gw)..<(d * 2 * gw + gw)]) } ?? [Float](repeating: 0, count: gw)
            let rb = bias.map { Array($0[(d * 2 * gw + gw)..<(d * 2 * gw + 2 * gw)]) } ?? [Float](repeating: 0, count: gw)
            let p = peepholes.map { Array($0[(d * 3 * hidden)..<((d + 1) * 3 * hidden)]) }
            let (f, gAct) = (functions[d * perDirection], functions[d * perDirection + 1])
            let h = cell == .lstm ? functions[d * perDirection + 2] : gAct
            var state = initialH.map { Array($0[(d * batch * hidden)..<((d + 1) * batch * hidden)]) } ?? [Float](repeating: 0, count: batch * hidden)
            var memory = initialC.map { Array($0[(d * batch * hidden)..<((d + 1) * batch * hidden)]) } ?? [Float](repeating: 0, count: batch * hidden)
            var recurrent = [Float](repeating: 0, count: batch * gw)
            let rOffset = d * gw * hidden
            for step in 0..<steps {
                // H·Rᵀ for every sequence: [batch, hidden] × Rᵀ → [batch, g·hidden].
                if batch > 0 {
                    state.withUnsafeBufferPointer { a in recurrence.withUnsafeBufferPointer { rr in recurrent.withUnsafeMutableBufferPointer { c in
                        BLAS.sgemm(transA: false, transB: true, m: batch, n: gw, k: hidden, alpha: 1, a: a.baseAddress!, lda: hidden,
                                   b: rr.baseAddress! + rOffset, ldb: hidden, beta: 0, c: c.baseAddress!, ldc: gw)
                    } } }
                }
                for b in 0..<batch where step < lengths[b] {
                    let t = reverse ? lengths[b] - 1 - step : step
                    let xp = (t * batch + b) * gw, rp = b * gw, sp = b * hidden
                    func clipped(_ v: Float) -> Float { Swift.min(Swift.max(v, -clip), clip) }
                    switch cell {
                    case .lstm:
                        for k in 0..<hidden {
                            func gate(_ n: Int) -> Float { projected[xp + n * hidden + k] + recurrent[rp + n * hidden + k] + wb[n * hidden + k] + rb[n * hidden + k] }
                            let cPrev = memory[sp + k]
                            let i = f(clipped(gate(0) + (p?[k] ?? 0) * cPrev))
                            let forget = inputForget ? 1 - i : f(clipped(gate(2) + (p?[2 * hidden + k] ?? 0) * cPrev))
                            let candidate = gAct(clipped(gate(3)))
                            let c = forget * cPrev + i * candidate
                            let o = f(clipped(gate(1) + (p?[hidden + k] ?? 0) * c))
                            memory[sp + k] = c
                            state[sp + k] = o * h(c)
                        }
                    case .gru:
                        // Rh·(r ⊙ H) needs r first: the h gate's recurrent part is recomputed per sequence below.
                        var reset = [Float](repeating: 0, count: hidden), update = [Float](repeating: 0, count: hidden)
                        for k in 0..<hidden {
                            update[k] = f(clipped(projected[xp + k] + recurrent[rp + k] + wb[k] + rb[k]))
                            reset[k] = f(clipped(projected[xp + hidden + k] + recurrent[rp + hidden + k] + wb[hidden + k] + rb[hidden + k]))
                        }
                        var next = [Float](repeating: 0, count: hidden)
                        for k in 0..<hidden {
                            let candidate: Float
                            if linearBeforeReset {
                                candidate = projected[xp + 2 * hidden + k] + wb[2 * hidden + k] + reset[k] * (recurrent[rp + 2 * hidden + k] + rb[2 * hidden + k])
                            } else {
                                var sum: Float = 0
                                let row = rOffset + (2 * hidden + k) * hidden
                                for j in 0..<hidden { sum += recurrence[row + j] * reset[j] * state[sp + j] }
                                candidate = projected[xp + 2 * hidden + k] + wb[2 * hidden + k] + sum + rb[2 * hidden + k]
                            }
                            let ht = gAct(clipped(candidate))
                            next[k] = (1 - update[k]) * ht + update[k] * state[sp + k]
                        }
                        for k in 0..<hidden { state[sp + k] = next[k] }
                    }
                    let yp = ((t * directions + d) * batch + b) * hidden
                    for k in 0..<hidden { y[yp + k] = state[sp + k] }
                }
            }
            for i in 0..<(batch * hidden) {
                lastH[d * batch * hidden + i] = state[i]
                lastC[d * batch * hidden + i] = memory[i]
            }
        }
        var yTensor = Tensor(shape: [steps, directions, batch, hidden], floats: y)
        var hTensor = Tensor(shape: [directions, batch, hidden], floats: lastH), cTensor = Tensor(shape: [directions, batch, hidden], floats: lastC)
        if layout == 1 {
            yTensor = DataMovement.permuted(yTensor, [2, 0, 1, 3])
            hTensor = DataMovement.permuted(hTensor, [1, 0, 2])
            cTensor = DataMovement.permuted(cTensor, [1, 0, 2])
        }
        return cell == .lstm ? [yTensor, hTensor, cTensor] : [yTensor, hTensor]
    }
}
