import HedgerowCore

/// ZipMap: a classifier's [N, C] probabilities as one map per row, class label → probability.
///
/// Hedgerow holds no map values: ZipMap passes its [N, C] tensor through, and the loader keeps the labels in the
/// graph output's signature (`TensorSignature.mapKeys`), so that the codecs answer each row as a JSON object (TF
/// Serving REST) or the [N, C] tensor with its labels (KServe v2). A ZipMap whose output feeds another node is
/// refused at load (`mapKeys(of:)`): only a graph output may be a map.
enum ZipMap {
    /// The labels of a ZipMap node, as text (integer labels written in decimal, as JSON object keys are).
    static func mapKeys(of node: Node) throws(HedgerowError) -> [String] {
        let labels = try MLOperators.classLabels(node)
        return labels.names ?? labels.ids.map { String($0) }
    }

    static func kernel(_ node: Node) throws(HedgerowError) -> Kernel {
        let width = try mapKeys(of: node).count
        return { node, args throws(HedgerowError) in
            let x = try Operators.input(args, 0, of: node)
            guard x.elementType == .float32 else {
                throw HedgerowError(.badRequest, "node '\(node.label)' (ZipMap): input must be float32, got \(x.elementType)")
            }
            guard (1...2).contains(x.shape.count), x.shape.last == width else {
                throw HedgerowError(.badRequest, "node '\(node.label)' (ZipMap): input must be [N, \(width)] (one column per class label), got shape \(x.shape)")
            }
            return [x.shape.count == 1 ? x.reshaped([1, width]) : x]
        }
    }
}
