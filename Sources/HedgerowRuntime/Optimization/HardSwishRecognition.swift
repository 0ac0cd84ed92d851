import HedgerowCore

/// x · Clip(x + 3, 0, 6) / 6 written out as Add → Clip → Mul → Div (how Paddle exports hard_swish), where each
/// intermediate feeds only the next node, becomes one HardSwish node — one pass instead of four, and a HardSwish the
/// activation-fusion pass can then apply inside the Conv before it. The two differ only in float rounding
/// (x · max(0, min(1, x/6 + 1/2)) against x · clip(x + 3, 0, 6) / 6: a few ulps).
enum HardSwishRecognition {
    static func run(_ draft: inout GraphDraft) -> [String] {
        var recognized = 0
        var index = 0
        while index < draft.nodes.count {
            if let at = recognize(endingAt: index, &draft) {
                recognized += 1
                index = at + 1
            } else {
                index += 1
            }
        }
        return recognized > 0 ? ["\(recognized) Add → Clip → Mul → Div chains replaced by HardSwish"] : []
    }

    /// The chain ending with the Div at `index`, replaced by HardSwish; the HardSwish's index when it was one.
    private static func recognize(endingAt index: Int, _ draft: inout GraphDraft) -> Int? {
        let div = draft.nodes[index]
        guard isOp(div, "Div"), div.inputs.count == 2, constant(div.inputs[1], draft) == 6,
              let mulIndex = producer(div.inputs[0], draft), isOp(draft.nodes[mulIndex], "Mul"), draft.onlyFeeds(div.inputs[0], index) else { return nil }
        let mul = draft.nodes[mulIndex]
        guard mul.inputs.count == 2 else { return nil }
        for (xSide, clipSide) in [(0, 1), (1, 0)] {
            let x = mul.inputs[xSide]
            guard let clipIndex = producer(mul.inputs[clipSide], draft), isOp(draft.nodes[clipIndex], "Clip"), draft.onlyFeeds(mul.inputs[clipSide], mulIndex),
                  ActivationFusion.parameters(draft.nodes[clipIndex], draft) == [0, 6],
                  let addIndex = producer(draft.nodes[clipIndex].inputs[0], draft), isOp(draft.nodes[addIndex], "Add"),
                  draft.onlyFeeds(draft.nodes[clipIndex].inputs[0], clipIndex) else { continue }
            let add = draft.nodes[addIndex]
            guard add.inputs.count == 2, (add.inputs[0] == x && constant(add.inputs[1], draft) == 3) || (add.inputs[1] == x && constant(add.inputs[0], draft) == 3) else { continue }
            let hardSwish = Node(name: div.name, opType: "HardSwish", inputs: [x], outputs: div.outputs, attributes: [:])
            // The chain's other nodes come before the Div (topological order): the HardSwish takes the Div's place.
            draft.nodes[index] = hardSwish
            for removed in [addIndex, clipIndex, mulIndex].sorted(by: >) { draft.nodes.remove(at: removed) }
            return index - 3
        }
        return nil
    }

    private static func isOp(_ node: Node, _ op: String) -> Bool { node.domain.isEmpty && node.opType == op }

    private static func producer(_ value: String, _ draft: GraphDraft) -> Int? {
        draft.nodes.firstIndex { $0.outputs.contains(value) }
    }

    /// The one float value of an initializer, if it is one.
    private static func constant(_ name: String, _ draft: GraphDraft) -> Float? {
        guard let t = draft.initializers[name], case .float32(let v) = t.storage, v.count == 1 else { return nil }
        return v[0]
    }
}
