/// The client API paths that both the router and the workers answer (TensorFlow Serving REST and KServe v2).
///
/// Parsing is shared so that the router and the worker agree on what a URL means; the router uses
/// `path(pinnedTo:)` to forward a request to a worker with the version it resolved.
public enum InferenceRoute: Hashable, Sendable {
    public enum Action: Hashable, Sendable {
        /// `POST /v1/models/{m}[...]:predict`
        case tfPredict
        /// `GET /v1/models/{m}[...]`
        case tfStatus
        /// `GET /v1/models/{m}[...]/metadata`
        case tfMetadata
        /// `POST /v2/models/{m}[/versions/{v}]/infer`
        case v2Infer
        /// `GET /v2/models/{m}[/versions/{v}]`
        case v2Metadata
        /// `GET /v2/models/{m}[/versions/{v}]/ready`
        case v2Ready
    }

    /// `GET /v2`
    case v2Server
    /// `GET /v2/health/live`
    case v2Live
    /// `GET /v2/health/ready`
    case v2ServerReady
    case model(ModelName, VersionSelector, Action)

    /// Whether the action needs a request body and a POST.
    public var isInference: Bool {
        if case .model(_, _, let action) = self { return action == .tfPredict || action == .v2Infer }
        return false
    }

    /// Parses a request target (query string ignored). Returns nil for paths outside the client API;
    /// throws for paths inside it that are malformed (bad model name, version or label).
    ///
    /// The path is taken exactly as sent: nothing is percent-decoded, so an encoded `..`, `/` or NUL (`%2e%2e`,
    /// `%2f`, `%00`, double-encoded `%252e`) is a name holding `%`, which `ModelName` refuses. Segments are split
    /// on `/` only; a model name, version or label is always exactly one segment.
    public static func parse(_ target: String) throws(HedgerowError) -> InferenceRoute? {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard let root = parts.first else { return nil }
        let rest = Array(parts.dropFirst())
        switch root {
        case "v1": return try parseTF(rest)
        case "v2": return try parseV2(rest)
        default: return nil
        }
    }

    private static func parseTF(_ segments: [Substring]) throws(HedgerowError) -> InferenceRoute? {
        guard segments.first == "models", segments.count >= 2 else { return nil }
        var tail = Array(segments.dropFirst())
        var predict = false
        if let last = tail.last, last.hasSuffix(":predict") {
            predict = true
            tail[tail.count - 1] = last.dropLast(":predict".count)
        }
        var metadata = false
        if !predict, tail.last == "metadata", tail.count == 2 || tail.count == 4 {
            metadata = true
            tail.removeLast()
        }
        let model = try ModelName(String(tail[0]))
        let selector: VersionSelector
        switch tail.count {
        case 1: selector = .latest
        case 3 where tail[1] == "versions": selector = .version(try ModelVersion(parsing: tail[2]))
        case 3 where tail[1] == "labels":
            // Labels follow the model-name rules: they resolve in routing tables, never on disk, but one rule
            // for every name keeps `%2f`, `..` and control characters out of every place a label travels to.
            guard ModelName.isValid(String(tail[2])) else {
                throw HedgerowError(.badRequest, "invalid label \(ModelName.quoted(tail[2])) for model '\(model)': use 1-128 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit")
            }
            selector = .label(String(tail[2]))
        default: return nil
        }
        return .model(model, selector, predict ? .tfPredict : (metadata ? .tfMetadata : .tfStatus))
    }

    private static func parseV2(_ segments: [Substring]) throws(HedgerowError) -> InferenceRoute? {
        if segments.isEmpty || segments == [""] { return .v2Server }
        if segments == ["health", "live"] { return .v2Live }
        if segments == ["health", "ready"] { return .v2ServerReady }
        guard segments.first == "models", segments.count >= 2 else { return nil }
        var tail = Array(segments.dropFirst())
        var action = Action.v2Metadata
        if tail.last == "infer" { action = .v2Infer; tail.removeLast() } else if tail.last == "ready" { action = .v2Ready; tail.removeLast() }
        guard let first = tail.first else { return nil }
        let model = try ModelName(String(first))
        switch tail.count {
        case 1: return .model(model, .latest, action)
        case 3 where tail[1] == "versions": return .model(model, .version(try ModelVersion(parsing: tail[2])), action)
        default: return nil
        }
    }

    /// The same request addressed to one version explicitly: what the router sends to a worker.
    public func path(pinnedTo version: ModelVersion) -> String {
        guard case .model(let model, _, let action) = self else { return path }
        return Self.path(model: model, selector: .version(version), action: action)
    }

    /// The canonical path of this route.
    public var path: String {
        switch self {
        case .v2Server: "/v2"
        case .v2Live: "/v2/health/live"
        case .v2ServerReady: "/v2/health/ready"
        case .model(let model, let selector, let action): Self.path(model: model, selector: selector, action: action)
        }
    }

    private static func path(model: ModelName, selector: VersionSelector, action: Action) -> String {
        let isV2 = action == .v2Infer || action == .v2Metadata || action == .v2Ready
        var path = isV2 ? "/v2/models/\(model)" : "/v1/models/\(model)"
        switch selector {
        case .latest: break
        case .version(let v): path += "/versions/\(v)"
        case .label(let l): path += "/labels/\(l)"
        }
        switch action {
        case .tfPredict: path += ":predict"
        case .tfStatus, .v2Metadata: break
        case .tfMetadata: path += "/metadata"
        case .v2Infer: path += "/infer"
        case .v2Ready: path += "/ready"
        }
        return path
    }
}
