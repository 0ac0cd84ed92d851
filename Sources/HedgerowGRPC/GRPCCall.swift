import HedgerowCore
import HedgerowHTTP
import NIOCore

/// A gRPC call as the router and the workers first read it: which method, and its one message. What comes before
/// any role's own logic is here once: HTTP/2 only, a method of `inference.GRPCInferenceService`, a POST, one
/// well-framed message, and the model a model-bound call names.
public struct GRPCCall: Sendable {
    public var method: GRPCMethod
    /// The message without its prefix.
    public var message: ByteBuffer

    public enum Reading: Sendable {
        case call(GRPCCall)
        /// The answer that refuses the request.
        case refused(HTTPResponse)
    }

    public static func read(_ request: HTTPRequest, isHTTP2: Bool) -> Reading {
        guard isHTTP2 else {
            return .refused(.error(HedgerowError(.badRequest, "gRPC needs HTTP/2; this request came over HTTP/1.1")))
        }
        guard let method = GRPCMethod(path: request.path) else {
            return .refused(.grpcError(.unimplemented, "no gRPC method \(request.path.prefix(200)); Hedgerow serves \(GRPCMethod.service)'s \(GRPCMethod.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        guard request.method == .POST else { return .refused(.grpcError(.unimplemented, "gRPC calls are POSTs")) }
        switch GRPCFrame.message(in: request.body, encoding: request.headers.first(name: "grpc-encoding")) {
        case .success(let message): return .call(GRPCCall(method: method, message: message))
        case .failure(let malformed): return .refused(.grpcError(malformed.code, malformed.message))
        }
    }

    /// The model and version a model-bound call names (fields 1 and 2), under the HTTP API's rules: an empty
    /// version is the latest, a number that version, and with `labels` any other name a label (the router resolves
    /// labels; a worker is always sent a number).
    public func target(labels: Bool) throws(HedgerowError) -> (ModelName, VersionSelector) {
        let fields: GRPCModelFields
        switch GRPCModelFields.read(message) {
        case .success(let read): fields = read
        case .failure(let malformed): throw HedgerowError(.badRequest, "malformed request message: \(malformed.message)")
        }
        let model = try ModelName(fields.name)
        guard !fields.version.isEmpty else { return (model, .latest) }
        if !labels || fields.version.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return (model, .version(try ModelVersion(parsing: Substring(fields.version))))
        }
        guard ModelName.isValid(fields.version) else {
            throw HedgerowError(.badRequest, "invalid version or label \(ModelName.quoted(Substring(fields.version))) for model '\(model)': a version number, or a label of 1-128 characters of A-Z a-z 0-9 _ . -")
        }
        return (model, .label(fields.version))
    }

    /// ServerMetadata's answer: the server's name, Hedgerow's version, and the extensions both APIs offer.
    public static func serverMetadata(name: String) -> HTTPResponse {
        .grpc(Inference_ServerMetadataResponse.with {
            $0.name = name
            $0.version = HedgerowVersion.current
            $0.extensions = ["binary_tensor_data"]
        })
    }
}
