/// A row-major walk over an output shape, for operands read through element strides (0 along a broadcast axis,
/// any step for a transpose or a slice), simplified so that the innermost loop is as long as it can be: axes of
/// size 1 are dropped, and neighbouring axes that every operand walks as one are merged. [N, C, H, W] × [1, C, 1, 1]
/// becomes rows of H·W elements with the second operand fixed along each; a transpose that keeps the last axis
/// becomes row copies. Kernels then run a flat loop per row instead of stepping an index odometer per element.
///
/// Invariant: `rows · length` is the output's element count, and for every row the operands' offsets plus
/// `(length − 1)·inner stride` stay inside what the caller's strides address (the caller's strides are valid for
/// the shape, as `DataMovement.strides` and `Broadcast.strides` make them).
struct StridedRows {
    /// Elements per row and each operand's stride along the row.
    let length: Int
    let inner: [Int]
    /// Number of rows (0 when the shape holds no element).
    let rows: Int
    private let outerShape: [Int]
    /// `outerStrides[k][d]`: operand k's stride along outer axis d.
    private let outerStrides: [[Int]]

    /// `strides[k]` has one entry per axis of `shape`, for operand k (one or two operands).
    init(shape: [Int], strides: [[Int]]) {
        var dims: [Int] = []
        var merged = [[Int]](repeating: [], count: strides.count)
        for d in shape.indices where shape[d] != 1 {
            if let last = dims.indices.last, strides.indices.allSatisfy({ merged[$0][last] == strides[$0][d] * shape[d] }) {
                dims[last] *= shape[d]
                for k in strides.indices { merged[k][last] = strides[k][d] }
            } else {
                dims.append(shape[d])
                for k in strides.indices { merged[k].append(strides[k][d]) }
            }
        }
        let total = shape.contains(0) ? 0 : dims.reduce(1, *)
        if let length = dims.last {
            self.length = length
            inner = merged.map { $0[$0.count - 1] }
            outerShape = Array(dims.dropLast())
            outerStrides = merged.map { Array($0.dropLast()) }
        } else {
            length = 1
            inner = [Int](repeating: 0, count: strides.count)
            outerShape = []
            outerStrides = [[Int]](repeating: [], count: strides.count)
        }
        rows = length == 0 ? 0 : total / length
    }

    /// Calls `body(row, offsetA, offsetB)` for every row in order, with each operand's offset of the row's first
    /// element (offsetB is 0 for a walk of one operand).
    @inline(__always)
    func forEachRow(_ body: (_ row: Int, _ a: Int, _ b: Int) -> Void) {
        guard rows > 0 else { return }
        let rank = outerShape.count
        let sa = outerStrides[0], sb = outerStrides.count > 1 ? outerStrides[1] : [Int](repeating: 0, count: rank)
        var index = [Int](repeating: 0, count: rank)
        var a = 0, b = 0
        for row in 0..<rows {
            body(row, a, b)
            var d = rank - 1
            while d >= 0 {
                index[d] += 1; a += sa[d]; b += sb[d]
                if index[d] < outerShape[d] { break }
                a -= sa[d] * index[d]; b -= sb[d] * index[d]; index[d] = 0
                d -= 1
            }
        }
    }
}

extension Array {
    /// The elements at `start + Σ index[d]·strides[d]` for every index of `shape`, in row-major order: a transpose,
    /// a slice, a broadcast. Contiguous rows are copied whole. The caller's strides keep every offset in bounds.
    func strided(shape: [Int], strides: [Int], start: Int = 0) -> [Element] {
        let walk = StridedRows(shape: shape, strides: [strides])
        let n = walk.rows * walk.length, length = walk.length, step = walk.inner[0]
        guard n > 0 else { return [] }
        return [Element].filled(count: n) { out in
            withUnsafeBufferPointer { source in
                // Non-nil: n > 0 elements are read from the source, so it is not empty.
                let base = source.baseAddress! + start
                walk.forEachRow { row, a, _ in
                    let to = out.baseAddress! + row * length, from = base + a
                    switch step {
                    case 1: to.initialize(from: from, count: length)
                    case 0: to.initialize(repeating: from.pointee, count: length)
                    default: for i in 0..<length { (to + i).initialize(to: from[i * step]) }
                    }
                }
            }
        }
    }
}
