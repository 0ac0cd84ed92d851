import HedgerowCore

/// The one bound on what a model file or a request can make the runtime allocate, and the checked arithmetic
/// every size computed from them goes through.
///
/// Every byte from outside is hostile: an initializer's dims, a Reshape's constant target, a request's shape.
/// Swift traps on integer overflow and on a failed allocation, and a trap kills the worker with every model it
/// serves. So every shape is checked once, when it is made (decoded, received, or computed by a kernel before it
/// allocates), and from then on arithmetic over it cannot overflow.
///
/// **The invariant ("a valid shape")**: at most `maxRank` dimensions, every dimension is ≥ 0 and the product of the
/// non-zero dimensions is at most `maxElements`. A product over any subset of the axes of a valid shape is then at
/// most `maxElements` (2^28), so strides, sub-products over axes and flat offsets need no further checks, and a
/// product of two such numbers (2^56) still fits in `Int`. Zero dimensions are left out of the product on purpose: `[0, 2^62]` holds
/// no element, but its strides would still overflow.
///
/// **Why 2^28 elements** (1 GiB of float32, 2 GiB of int64): the worker shares a 24 GiB machine with other workers
/// and models, and a data-movement kernel (Transpose, Gather, Slice, Expand) holds its input, an index list of
/// one `Int` per output element and its output at once, so one tensor at the limit costs 4 GiB (float32) to 6 GiB
/// (int64) in flight; 2^30 elements would make that 16 to 24 GiB, the whole machine. That is the most one request should be able to take. The largest tensors of real serving models (an
/// embedding table of 50k × 4096, a batch of 32 images of 64 × 224 × 224 activations) are below it. Every
/// dimension is then also below `Int32.max`, which the BLAS interface takes.
public enum TensorLimits {
    /// At most this many elements in one tensor (see the type's documentation for why).
    public static let maxElements = 1 << 28

    /// At most this many dimensions (numpy's limit): a shape is data too, and kernels walk it once per element.
    public static let maxRank = 64

    /// The element count of `shape` if it is valid (at most `maxRank` dimensions, each ≥ 0, the product of the
    /// non-zero ones at most `maxElements`), else nil. Never traps.
    public static func validCount(_ shape: some Sequence<Int>) -> Int? {
        var product = 1, empty = false, rank = 0
        for d in shape {
            rank += 1
            guard rank <= maxRank else { return nil }
            guard d >= 0 else { return nil }
            if d == 0 { empty = true; continue }
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maxElements else { return nil }
            product = p
        }
        return empty ? 0 : product
    }

    /// The element count of a valid `shape`, or an error of `kind` naming `what` and the shape
    /// ("`what`: `noun` [2, -3] has a negative dimension (-3)").
    public static func count(_ shape: [Int], what: @autoclosure () -> String, kind: HedgerowError.Kind = .badRequest, noun: String = "shape") throws(HedgerowError) -> Int {
        guard let n = validCount(shape) else { throw refusal(shape, what: what(), kind: kind, noun: noun) }
        return n
    }

    /// The element count of a valid shape a kernel is about to allocate or index; the error names the node, its
    /// operator and which shape it is (`noun`: the output shape, the im2col buffer shape, the target shape).
    static func count(_ shape: [Int], node: Node, _ noun: String = "output shape") throws(HedgerowError) -> Int {
        try count(shape, what: "node '\(node.label)' (\(node.opType))", noun: noun)
    }

    /// Checks every shape a kernel returned; the backstop that keeps the invariant for the next node's kernel.
    static func check(_ tensor: Tensor, node: Node) throws(HedgerowError) {
        _ = try count(tensor.shape, node: node, "result shape")
    }

    static func refusal(_ shape: [Int], what: String, kind: HedgerowError.Kind, noun: String) -> HedgerowError {
        if shape.count > maxRank {
            return HedgerowError(kind, "\(what): \(noun) \(describe(shape)) has \(shape.count) dimensions (at most \(maxRank))")
        }
        if let d = shape.first(where: { $0 < 0 }) {
            return HedgerowError(kind, "\(what): \(noun) \(shape) has a negative dimension (\(d))")
        }
        return HedgerowError(kind, "\(what): \(noun) \(shape) is too large (a tensor holds at most \(maxElements) elements)")
    }

    /// A list of numbers from outside for an error message: the first few of a long one, so that a message
    /// cannot grow with the data.
    static func describe(_ values: [Int]) -> String {
        values.count <= 16 ? "\(values)" : "[\(values.prefix(8).map(String.init).joined(separator: ", ")), … (\(values.count) values)]"
    }
}

extension Sequence<Int> {
    /// The product of the dimensions of a valid shape (`TensorLimits`), or of some of its axes: at most
    /// `TensorLimits.maxElements` by the invariant, so it cannot overflow. Numbers from outside (a Reshape target,
    /// an Expand shape, dims in a file) go through `TensorLimits.count` instead.
    var dimensionProduct: Int { reduce(1, *) }
}
