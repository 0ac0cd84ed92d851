import HedgerowCore

/// The `ai.onnx.ml` operators: what scikit-learn (through skl2onnx) and the gradient-boosting libraries (through
/// onnxmltools) export. Unlike the default-domain table, each kernel is built per node at load
/// (`kernel(for:)`): the node's attributes are checked and turned into arrays once (a tree ensemble flattened,
/// coefficients laid out), so a run only walks arrays.
///
/// Class labels are integers or strings (`ClassLabels`); ZipMap's sequence of maps is answered as the [N, C]
/// tensor it is made from, its labels kept in the graph output's signature (`TensorSignature.mapKeys`).
enum MLOperators {
    static let domain = "ai.onnx.ml"

    static func kernel(for node: Node) throws(HedgerowError) -> Kernel? {
        switch node.opType {
        case "TreeEnsembleClassifier": try TreeEnsembleKernels.classifier(node)
        case "TreeEnsembleRegressor": try TreeEnsembleKernels.regressor(node)
        case "TreeEnsemble": try TreeEnsemble.kernel(node)
        case "LinearClassifier": try LinearModels.classifier(node)
        case "LinearRegressor": try LinearModels.regressor(node)
        case "Scaler": try Preprocessing.scaler(node)
        case "Normalizer": try Preprocessing.normalizer(node)
        case "Imputer": try Preprocessing.imputer(node)
        case "Binarizer": try Preprocessing.binarizer(node)
        case "ArrayFeatureExtractor": Preprocessing.arrayFeatureExtractor
        case "LabelEncoder": try CategoricalEncoders.labelEncoder(node)
        case "OneHotEncoder": try CategoricalEncoders.oneHotEncoder(node)
        case "ZipMap": try ZipMap.kernel(node)
        default: nil
        }
    }

    /// The op types `kernel(for:)` knows, for documentation and `hedgerow conformance`.
    static let supported = [
        "ArrayFeatureExtractor", "Binarizer", "Imputer", "LabelEncoder", "LinearClassifier", "LinearRegressor", "Normalizer",
        "OneHotEncoder", "Scaler", "TreeEnsemble", "TreeEnsembleClassifier", "TreeEnsembleRegressor", "ZipMap",
    ]

    /// A node's input as rows of features: [N, C] (or [C], one row), any numeric type as Float (what the ML
    /// operators compute in).
    static func rows(_ tensor: Tensor, of node: Node) throws(HedgerowError) -> (rows: Int, features: Int, values: [Float]) {
        let values: [Float]
        switch tensor.storage {
        case .float32(let v): values = v
        case .int64(let v): values = v.map { Float($0) }
        case .int32(let v): values = v.map { Float($0) }
        case .bool, .string:
            throw HedgerowError(.badRequest, "node '\(node.label)' (\(node.opType)): input must be numeric, got \(tensor.elementType)")
        }
        switch tensor.shape.count {
        case 1: return (1, tensor.shape[0], values)
        case 2: return (tensor.shape[0], tensor.shape[1], values)
        default:
            throw HedgerowError(.badRequest, "node '\(node.label)' (\(node.opType)): input must be [N, C] or [C], got shape \(tensor.shape)")
        }
    }

    /// Class labels of a classifier: `classlabels_int64s` (TreeEnsembleClassifier) or `classlabels_ints`
    /// (LinearClassifier), or `classlabels_strings` for both.
    static func classLabels(_ node: Node, attribute: String = "classlabels_int64s") throws(HedgerowError) -> ClassLabels {
        let strings = try node.strings("classlabels_strings") ?? []
        let ints = try node.ints(attribute) ?? []
        guard strings.isEmpty || ints.isEmpty else {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (\(node.opType)) has both classlabels_strings and \(attribute); it must have one")
        }
        if !strings.isEmpty { return ClassLabels(names: strings) }
        guard !ints.isEmpty else {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (\(node.opType)) has no class labels (\(attribute) or classlabels_strings)")
        }
        return ClassLabels(ids: ints.map { Int64($0) })
    }
}

/// A classifier's class labels. Kernels compute with `ids`: the integer labels, or for string labels their
/// positions 0..<n (as onnxruntime does), which `output` turns into the names.
struct ClassLabels: Sendable {
    let ids: [Int64]
    let names: [String]?

    init(ids: [Int64]) { (self.ids, self.names) = (ids, nil) }
    init(names: [String]) { (self.ids, self.names) = (names.indices.map { Int64($0) }, names) }

    var count: Int { ids.count }
    subscript(_ k: Int) -> Int64 { ids[k] }

    /// The label output Y: the ids as int64, or the names as strings (an id outside them, which only the raw
    /// 0/1 answers of the degenerate binary cases could give, is written as its number).
    func output(_ y: [Int64]) -> Tensor {
        guard let names else { return Tensor(shape: [y.count], int64s: y) }
        return Tensor(shape: [y.count], strings: y.map { id in
            let k = Int(id)
            return names.indices.contains(k) ? names[k] : String(id)
        })
    }
}
