import Foundation
import HedgerowCore

/// Einsum over float32 operands: explicit (`ij,jk->ik`) and implicit (`ij,jk`) outputs, repeated letters
/// (diagonals, traces), `...` broadcast numpy-style, any number of operands. One odometer walks every combination
/// of the output's and the summed letters; the work (the product of their sizes) is bounded, so an equation and
/// shapes from a model cannot make a run endless.
enum Einsum {
    /// The most multiply-adds one Einsum may take (about a second of work).
    static let maxWork = 1 << 30

    static let kernel: Kernel = { node, args throws(HedgerowError) in
        let operands = args.compactMap { $0 }
        let equation = try node.string("equation", default: "").filter { $0 != " " }
        let parts = equation.components(separatedBy: "->")
        guard parts.count <= 2, !operands.isEmpty else { throw ShapeOperators.bad(node, "equation '\(equation.prefix(80))' is not 'inputs->output' or 'inputs'") }
        var terms = parts[0].components(separatedBy: ",")
        guard terms.count == operands.count else { throw ShapeOperators.bad(node, "equation '\(equation.prefix(80))' names \(terms.count) operands, the node has \(operands.count)") }
        // `...` becomes letters of its own (digits, which equations never use), aligned to the right across operands.
        let ellipsisRanks = try terms.enumerated().map { (i, term) throws(HedgerowError) -> Int in
            guard term.contains("...") else { return 0 }
            let explicit = term.replacingOccurrences(of: "...", with: "").count
            guard operands[i].shape.count >= explicit else { throw ShapeOperators.bad(node, "operand \(i) has rank \(operands[i].shape.count), fewer than '\(term)' names") }
            return operands[i].shape.count - explicit
        }
        let widest = ellipsisRanks.max() ?? 0
        guard widest <= 10 else { throw ShapeOperators.bad(node, "'...' covers more than 10 axes") }
        let ellipsis = (0..<widest).map { Character(String($0)) }
        terms = terms.enumerated().map { i, term in term.replacingOccurrences(of: "...", with: String(ellipsis.suffix(ellipsisRanks[i]))) }
        var output: [Character]
        if parts.count == 2 {
            output = Array(parts[1].replacingOccurrences(of: "...", with: String(ellipsis)))
        } else {
            let all = terms.joined()
            output = ellipsis + all.filter { c in c.isLetter && all.filter { $0 == c }.count == 1 }.sorted()
        }
        var sizes: [Character: Int] = [:]
        for (i, term) in terms.enumerated() {
            let letters = Array(term)
            guard letters.count == operands[i].shape.count, letters.allSatisfy({ $0.isLetter || ellipsis.contains($0) }) else {
                throw ShapeOperators.bad(node, "term '\(term)' does not match operand \(i) of shape \(operands[i].shape)")
            }
            for (axis, letter) in letters.enumerated() {
                let size = operands[i].shape[axis]
                if let known = sizes[letter], known != size {
                    guard known == 1 || size == 1 else { throw ShapeOperators.bad(node, "'\(letter)' is \(known) in one operand and \(size) in another") }
                    sizes[letter] = max(known, size)
                } else if sizes[letter] == nil {
                    sizes[letter] = size
                }
            }
        }
        guard Set(output).count == output.count, output.allSatisfy({ sizes[$0] != nil }) else {
            throw ShapeOperators.bad(node, "output '\(String(output))' repeats a letter or names one no operand has")
        }
        let summed = sizes.keys.filter { !output.contains($0) }.sorted()
        let letters = output + summed
        let extents = letters.map { sizes[$0] ?? 0 }
        let outShape = output.map { sizes[$0] ?? 0 }
        _ = try TensorLimits.count(outShape, node: node)
        var work = 1
        for e in extents {
            let (p, overflow) = work.multipliedReportingOverflow(by: max(e, 1))
            guard !overflow, p <= maxWork else { throw ShapeOperators.bad(node, "equation '\(equation.prefix(80))' over these shapes needs more than \(maxWork) steps") }
            work = p
        }
        let values = try operands.map { t throws(HedgerowError) in try t.floats("Einsum operand of node '\(node.label)'") }
        // Per operand, the step in its storage for one step of each letter (0 where it broadcasts or is absent).
        let steps: [[Int]] = terms.enumerated().map { i, term in
            let strides = DataMovement.strides(operands[i].shape)
            var step = [Int](repeating: 0, count: letters.count)
            for (axis, letter) in term.enumerated() where operands[i].shape[axis] != 1 {
                if let l = letters.firstIndex(of: letter) { step[l] += strides[axis] }
            }
            return step
        }
        let outStrides = DataMovement.strides(outShape)
        var out = [Float](repeating: 0, count: outShape.dimensionProduct)
        guard !extents.contains(0) else { return [Tensor(shape: outShape, floats: out)] }
        var index = [Int](repeating: 0, count: letters.count)
        var offsets = [Int](repeating: 0, count: operands.count)
        var target = 0
        for _ in 0..<work {
            var product: Float = 1
            for o in 0..<operands.count { product *= values[o][offsets[o]] }
            out[target] += product
            // Next combination: the last letter moves fastest.
            var l = letters.count - 1
            while l >= 0 {
                index[l] += 1
                for o in 0..<operands.count { offsets[o] += steps[o][l] }
                if l < output.count { target += outStrides[l] }
                if index[l] < extents[l] { break }
                for o in 0..<operands.count { offsets[o] -= steps[o][l] * extents[l] }
                if l < output.count { target -= outStrides[l] * extents[l] }
                index[l] = 0
                l -= 1
            }
        }
        return [Tensor(shape: outShape, floats: out)]
    }
}
