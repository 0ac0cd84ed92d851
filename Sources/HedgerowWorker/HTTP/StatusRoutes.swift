import HedgerowCore
import HedgerowHTTP
import HedgerowRuntime

/// Model status and metadata endpoints of both APIs, and the KServe v2 server endpoints.
struct StatusRoutes {
    let models: ModelManager
    let workerName: String

    func respond(to route: InferenceRoute) -> HTTPResponse {
        switch route {
        case .v2Server:
            return .jsonBytes(.init(string: #"{"name":"hedgerow","version":"\#(HedgerowVersion.current)","extensions":["binary_tensor_data"]}"#))
        case .v2Live:
            return .jsonBytes(.init(string: #"{"live":true}"#))
        case .v2ServerReady:
            return .jsonBytes(.init(string: #"{"ready":true}"#))
        case .model(let model, let selector, let action):
            do {
                switch action {
                case .tfStatus: return try tfStatus(model, selector)
                case .tfMetadata: return try tfMetadata(model, selector)
                case .v2Metadata: return try v2Metadata(model, selector)
                case .v2Ready: return try v2Ready(model, selector)
                case .tfPredict, .v2Infer: return .error(HedgerowError(.methodNotAllowed, "use POST for inference"))
                }
            } catch {
                return .error(error)
            }
        }
    }

    private func versions(_ model: ModelName, _ selector: VersionSelector) throws(HedgerowError) -> [(version: ModelVersion, state: ModelVersionState, error: String?, graph: ModelGraph?)] {
        let all = models.status(of: model)
        guard !all.isEmpty else { throw HedgerowError(.notFound, "model '\(model)' is not loaded on this worker") }
        switch selector {
        case .latest: return all
        case .version(let v):
            let match = all.filter { $0.version == v }
            guard !match.isEmpty else { throw HedgerowError(.notFound, "model '\(model)' version \(v) is not loaded on this worker") }
            return match
        case .label(let label):
            throw HedgerowError(.notFound, "labels are resolved by the router; this worker has no label '\(label)' for '\(model)'")
        }
    }

    private func tfStatus(_ model: ModelName, _ selector: VersionSelector) throws(HedgerowError) -> HTTPResponse {
        let entries = try versions(model, selector).map { entry in
            TFModelVersionStatus(
                version: entry.version.description, state: entry.state.rawValue,
                status: .init(error_code: entry.state == .failed ? "UNKNOWN" : "OK", error_message: entry.error ?? "")
            )
        }
        return .json(["model_version_status": entries])
    }

    private func available(_ model: ModelName, _ selector: VersionSelector) throws(HedgerowError) -> (ModelVersion, ModelGraph) {
        let lease = try models.acquire(model, selector)
        defer { lease.release() }
        return (lease.id.version, lease.graph)
    }

    private func tfMetadata(_ model: ModelName, _ selector: VersionSelector) throws(HedgerowError) -> HTTPResponse {
        let (version, graph) = try available(model, selector)
        func describe(_ signatures: [TensorSignature]) -> String {
            signatures.map { s in
                let dtype = ["FP32": "DT_FLOAT", "INT64": "DT_INT64", "INT32": "DT_INT32", "BOOL": "DT_BOOL", "BYTES": "DT_STRING", "FP64": "DT_DOUBLE",
                             "FP16": "DT_HALF", "BF16": "DT_BFLOAT16"][s.datatype] ?? "DT_INVALID"
                let dims = s.metadataShape.map { "{\"size\":\"\($0)\",\"name\":\"\"}" }.joined(separator: ",")
                return "\"\(s.name)\":{\"dtype\":\"\(dtype)\",\"tensor_shape\":{\"dim\":[\(dims)],\"unknown_rank\":false},\"name\":\"\(s.name)\"}"
            }.joined(separator: ",")
        }
        let json = """
            {"model_spec":{"name":"\(model)","signature_name":"","version":"\(version)"},"metadata":{"signature_def":{"signature_def":{"serving_default":{"inputs":{\(describe(graph.inputs))},"outputs":{\(describe(graph.outputs))},"method_name":"tensorflow/serving/predict"}}}}}
            """
        return .jsonBytes(.init(string: json))
    }

    private func v2Metadata(_ model: ModelName, _ selector: VersionSelector) throws(HedgerowError) -> HTTPResponse {
        .json(try v2MetadataValue(model, selector))
    }

    /// What `GET /v2/models/{m}` answers, for the gRPC ModelMetadata call too.
    func v2MetadataValue(_ model: ModelName, _ selector: VersionSelector) throws(HedgerowError) -> V2ModelMetadata {
        let (version, graph) = try available(model, selector)
        let tensors = { (signatures: [TensorSignature]) in
            signatures.map {
                V2Tensor(name: $0.name, datatype: $0.datatype, shape: $0.metadataShape,
                         parameters: $0.mapKeys.map { ["class_labels": KServeCodec.labelsText($0)] })
            }
        }
        let allVersions = models.status(of: model).filter { $0.state == .available }.map { $0.version.description }
        return V2ModelMetadata(name: model.rawValue, versions: allVersions, platform: "onnx", inputs: tensors(graph.inputs), outputs: tensors(graph.outputs), version: version.description)
    }

    private func v2Ready(_ model: ModelName, _ selector: VersionSelector) throws(HedgerowError) -> HTTPResponse {
        try isReady(model, selector)
            ? .jsonBytes(.init(string: #"{"ready":true}"#)) : .error(HedgerowError(.unavailable, "model '\(model)' is not ready on this worker"))
    }

    /// Whether a version the selector names is loaded and serving (404 when none is held here at all).
    func isReady(_ model: ModelName, _ selector: VersionSelector) throws(HedgerowError) -> Bool {
        try versions(model, selector).contains { $0.state == .available }
    }
}

struct TFModelVersionStatus: Encodable {
    struct Status: Encodable {
        var error_code: String
        var error_message: String
    }
    var version: String
    var state: String
    var status: Status
}

struct V2Tensor: Encodable {
    var name: String
    var datatype: String
    var shape: [Int]
    /// `class_labels` of a ZipMap output (see `KServeCodec.encode`); absent otherwise.
    var parameters: [String: String]? = nil
}

struct V2ModelMetadata: Encodable {
    var name: String
    var versions: [String]
    var platform: String
    var inputs: [V2Tensor]
    var outputs: [V2Tensor]
    var version: String
}
