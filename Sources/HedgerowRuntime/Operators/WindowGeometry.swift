import HedgerowCore
import Synchronization

/// Where a sliding window (Conv, MaxPool, AveragePool) goes over a 1-D or 2-D input: output size and padding per
/// spatial axis, from `kernel_shape`, `strides`, `dilations`, `pads`, `auto_pad` and `ceil_mode` as the ONNX
/// spec defines them. Kernels run 1-D
/// windows as 2-D with a height of 1 (`as2D`).
struct WindowGeometry: Equatable {
    var input: [Int]
    var kernel: [Int]
    var strides: [Int]
    var dilations: [Int]
    var padBegin: [Int]
    var padEnd: [Int]
    var output: [Int]

    init(node: Node, input: [Int], kernel: [Int], ceilMode: Bool = false) throws(HedgerowError) {
        let rank = input.count
        self.input = input
        self.kernel = kernel
        let strides = try node.ints("strides") ?? [Int](repeating: 1, count: rank)
        let dilations = try node.ints("dilations") ?? [Int](repeating: 1, count: rank)
        self.strides = strides
        self.dilations = dilations
        // Attributes are data. Bounding each by `maxElements` (2^28, like any dimension) keeps every sum and product
        // of two of them below 2^57, so the geometry below and the kernels' index arithmetic cannot overflow.
        let limit = TensorLimits.maxElements
        guard strides.count == rank, dilations.count == rank, kernel.count == rank,
              strides.allSatisfy({ $0 > 0 && $0 <= limit }), dilations.allSatisfy({ $0 > 0 && $0 <= limit }),
              kernel.allSatisfy({ $0 > 0 && $0 <= limit }) else {
            throw ShapeOperators.bad(node, "kernel_shape \(TensorLimits.describe(kernel)), strides \(TensorLimits.describe(strides)) and dilations \(TensorLimits.describe(dilations)) must be positive (at most \(limit)), one per spatial axis (\(rank))")
        }
        let span = (0..<rank).map { (kernel[$0] - 1) * dilations[$0] + 1 }
        guard span.allSatisfy({ $0 <= limit }) else {
            throw ShapeOperators.bad(node, "the dilated window \(span) is larger than any tensor (\(limit) elements)")
        }
        let autoPad = try node.string("auto_pad", default: "NOTSET")
        switch autoPad {
        case "NOTSET":
            let pads = try node.ints("pads") ?? [Int](repeating: 0, count: 2 * rank)
            guard pads.count == 2 * rank, pads.allSatisfy({ $0 >= 0 && $0 <= limit }) else {
                throw ShapeOperators.bad(node, "pads \(TensorLimits.describe(pads)) must be 2 × \(rank) non-negative values (at most \(limit))")
            }
            padBegin = Array(pads[..<rank])
            padEnd = Array(pads[rank...])
        case "VALID":
            padBegin = [Int](repeating: 0, count: rank)
            padEnd = padBegin
        case "SAME_UPPER", "SAME_LOWER":
            padBegin = []
            padEnd = []
            for d in 0..<rank {
                let out = (input[d] + strides[d] - 1) / strides[d]
                let total = max(0, (out - 1) * strides[d] + span[d] - input[d])
                let small = total / 2, large = total - small
                padBegin.append(autoPad == "SAME_UPPER" ? small : large)
                padEnd.append(autoPad == "SAME_UPPER" ? large : small)
            }
        default:
            throw ShapeOperators.bad(node, "auto_pad '\(autoPad)' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
        }
        output = []
        for d in 0..<rank {
            let room = input[d] + padBegin[d] + padEnd[d] - span[d]
            guard room >= 0 else { throw ShapeOperators.bad(node, "the window (\(span[d])) is larger than the padded input (\(input[d] + padBegin[d] + padEnd[d])) on spatial axis \(d)") }
            var out = (ceilMode ? (room + strides[d] - 1) / strides[d] : room / strides[d]) + 1
            // A last window that would start in the end padding is dropped (as the reference implementations do).
            if ceilMode && (out - 1) * strides[d] >= input[d] + padBegin[d] { out -= 1 }
            output.append(out)
        }
    }

    /// The same geometry over 2-D: a 1-D window gets a height axis of 1 in front.
    var as2D: WindowGeometry {
        guard input.count == 1 else { return self }
        var g = self
        g.input.insert(1, at: 0); g.kernel.insert(1, at: 0); g.strides.insert(1, at: 0); g.dilations.insert(1, at: 0)
        g.padBegin.insert(0, at: 0); g.padEnd.insert(0, at: 0); g.output.insert(1, at: 0)
        return g
    }

    /// The spatial dims of an [N, C, spatial…] input, refusing what the kernels do not run (3-D and up).
    static func spatial(_ shape: [Int], node: Node) throws(HedgerowError) -> [Int] {
        guard shape.count == 3 || shape.count == 4 else {
            throw ShapeOperators.bad(node, "only 1-D and 2-D inputs ([N, C, W] or [N, C, H, W]) are supported, got shape \(shape)")
        }
        return Array(shape[2...])
    }
}

/// One node's geometry for the last input it saw. A served model sees the same shapes request after request, and
/// working the geometry out again (attributes read, arrays built) cost about a tenth of a small CNN's batch-1 run.
/// Each Conv and pooling node has its own (`Operators.kernel` builds their kernels per node).
final class WindowGeometryCache: Sendable {
    private let last = Mutex<(key: [Int], geometry: WindowGeometry)?>(nil)

    /// The 2-D geometry for `input` (spatial) and `kernel`, from the cache or made by `make` and kept.
    func geometry(input: [Int], kernel: [Int], _ make: () throws(HedgerowError) -> WindowGeometry) throws(HedgerowError) -> WindowGeometry {
        let key = input + [-1] + kernel
        if let hit = last.withLock({ $0?.key == key ? $0?.geometry : nil }) { return hit }
        let geometry = try make()
        last.withLock { $0 = (key, geometry) }
        return geometry
    }
}
