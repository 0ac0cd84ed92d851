import HedgerowCore

/// The `ai.onnx.ml` operators: what scikit-learn (through skl2onnx) and the gradient-boosting libraries (through
/// onnxmltools) export. Unlike the default-domain table, each kernel is built per node at load
/// (`kernel(for:)`): the node's attributes are checked and turned into arrays once (a tree ensemble flattened,
/// coefficients laid out), so a run only walks arrays.
///
/// Numeric class labels (`classlabels_int64s`) only: a model with string labels is refused at load with that
/// reason, as are ZipMap, LabelEncoder and OneHotEncoder, which need string or map values the runtime does not
/// hold yet.
enum MLOperators {
    static let domain = "ai.onnx.ml"

    static func kernel(for node: Node) throws(HedgerowError) -> Kernel? {
        switch node.opType {
        case "TreeEnsembleClassifier": try TreeEnsembleKernels.classifier(node)
        case "TreeEnsembleRegressor": try TreeEnsembleKernels.regressor(node)
        case "LinearClassifier": try LinearModels.classifier(node)
        case "LinearRegressor": try LinearModels.regressor(node)
        case "Scaler": try Preprocessing.scaler(node)
        case "Normalizer": try Preprocessing.normalizer(node)
        case "Imputer": try Preprocessing.imputer(node)
        case "Binarizer": try Preprocessing.binarizer(node)
        case "ArrayFeatureExtractor": Preprocessing.arrayFeatureExtractor
        default: nil
        }
    }

    /// The op types `kernel(for:)` knows, for documentation and `hedgerow conformance`.
    static let supported = [
        "ArrayFeatureExtractor", "Binarizer", "Imputer", "LinearClassifier", "LinearRegressor", "Normalizer", "Scaler",
        "TreeEnsembleClassifier", "TreeEnsembleRegressor",
    ]

    /// A node's input as rows of features: [N, C] (or [C], one row), any numeric type as Float (what the ML
    /// operators compute in).
    static func rows(_ tensor: Tensor, of node: Node) throws(HedgerowError) -> (rows: Int, features: Int, values: [Float]) {
        let values: [Float]
        switch tensor.storage {
        case .float32(let v): values = v
        case .int64(let v): values = v.map { Float($0) }
        case .int32(let v): values = v.map { Float($0) }
        case .bool:
            throw HedgerowError(.badRequest, "node '\(node.label)' (\(node.opType)): input must be numeric, got BOOL")
        }
        switch tensor.shape.count {
        case 1: return (1, tensor.shape[0], values)
        case 2: return (tensor.shape[0], tensor.shape[1], values)
        default:
            throw HedgerowError(.badRequest, "node '\(node.label)' (\(node.opType)): input must be [N, C] or [C], got shape \(tensor.shape)")
        }
    }

    /// Class labels of a classifier: `classlabels_int64s` (TreeEnsembleClassifier) or `classlabels_ints`
    /// (LinearClassifier); string labels are refused (see above).
    static func classLabels(_ node: Node, attribute: String = "classlabels_int64s") throws(HedgerowError) -> [Int64] {
        if let strings = try node.strings("classlabels_strings"), !strings.isEmpty {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (\(node.opType)) has string class labels (\(strings.prefix(3).joined(separator: ", "))…), which Hedgerow does not serve yet; export with integer classes (in scikit-learn, fit on integer targets)")
        }
        guard let labels = try node.ints(attribute), !labels.isEmpty else {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (\(node.opType)) has no \(attribute)")
        }
        return labels.map { Int64($0) }
    }
}
