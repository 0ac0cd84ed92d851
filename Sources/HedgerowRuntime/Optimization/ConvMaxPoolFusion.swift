import HedgerowCore

/// Conv (with its activation, if one was fused) → MaxPool 2×2 with stride 2, no padding, no dilation, floor mode and
/// no Indices output, where the Conv's output feeds only the MaxPool, becomes one Conv that pools its own output
/// (`Convolution.fusedMaxPool`): the classic conv-relu-pool block as one node, which in a small CNN is one node's
/// bookkeeping fewer per block and per request.
enum ConvMaxPoolFusion {
    static func run(_ draft: inout GraphDraft) -> [String] {
        var fused = 0
        var index = 0
        while index < draft.nodes.count {
            let pool = draft.nodes[index]
            guard pool.domain.isEmpty, pool.opType == "MaxPool", isPlain2x2(pool), let x = pool.inputs.first,
                  let convIndex = draft.nodes.firstIndex(where: { $0.outputs.first == x && $0.opType == "Conv" && $0.domain.isEmpty }),
                  draft.nodes[convIndex].attributes[Convolution.fusedMaxPool] == nil, draft.onlyFeeds(x, index),
                  let w = draft.nodes[convIndex].inputs.dropFirst().first.flatMap({ draft.initializers[$0] }), w.shape.count == 4 else {
                index += 1
                continue
            }
            var conv = draft.nodes[convIndex]
            conv.attributes[Convolution.fusedMaxPool] = .int(1)
            conv.outputs = [pool.outputs[0]]
            draft.nodes[convIndex] = conv
            draft.nodes.remove(at: index)
            fused += 1
        }
        return fused > 0 ? ["\(fused) 2×2 MaxPool nodes applied inside the Conv before them"] : []
    }

    /// kernel_shape [2, 2], strides [2, 2], no pads, no dilation, floor mode, one output.
    static func isPlain2x2(_ node: Node) -> Bool {
        guard (try? node.ints("kernel_shape")) == [2, 2], (try? node.ints("strides")) == [2, 2],
              node.outputs.dropFirst().allSatisfy(\.isEmpty), (try? node.int("ceil_mode", default: 0)) == 0,
              ((try? node.ints("dilations")) ?? [1, 1]) == [1, 1], ((try? node.ints("pads")) ?? [0, 0, 0, 0]) == [0, 0, 0, 0],
              ["NOTSET", "VALID"].contains((try? node.string("auto_pad", default: "NOTSET")) ?? "") else { return false }
        return true
    }
}
