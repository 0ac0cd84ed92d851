import HedgerowCore
import HedgerowGRPC
import HedgerowHTTP
import NIOCore

/// `inference.GRPCInferenceService` on the router's one port: a gRPC call is told apart by its content type and
/// goes through the same resolution, hedging, budget, retries, ejection and zone spreading as the HTTP API.
///
/// The router reads no more of a message than fields 1 and 2 (`GRPCModelFields`): it resolves the model, pins the
/// version it chose by appending field 2, and forwards the call to a worker, which answers it as gRPC. Its own
/// refusals and failures (no such model, deadline, every replica down) reach the client as gRPC statuses
/// (`asGRPC`), and a worker's trailers are forwarded as they came. The deadline is the call's `grpc-timeout`.
extension RouterResponder {
    func grpc(_ request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        let loop = context.eventLoop
        guard context.isHTTP2 else {
            return loop.makeSucceededFuture(.error(HedgerowError(.badRequest, "gRPC needs HTTP/2; this request came over HTTP/1.1")))
        }
        guard let method = GRPCMethod(path: request.path) else {
            return loop.makeSucceededFuture(.grpcError(.unimplemented, "no gRPC method \(request.path.prefix(200)); Hedgerow serves \(GRPCMethod.service)'s \(GRPCMethod.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        guard request.method == .POST else { return loop.makeSucceededFuture(.grpcError(.unimplemented, "gRPC calls are POSTs")) }
        let message: ByteBuffer
        switch GRPCFrame.message(in: request.body, encoding: request.headers.first(name: "grpc-encoding")) {
        case .success(let read): message = read
        case .failure(let malformed): return loop.makeSucceededFuture(.grpcError(malformed.code, malformed.message))
        }
        switch method {
        case .serverLive:
            return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ServerLiveResponse.with { $0.live = true }))
        case .serverReady:
            let ready = store.current.generation > 0
            return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ServerReadyResponse.with { $0.ready = ready }))
        case .serverMetadata:
            return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ServerMetadataResponse.with {
                $0.name = "hedgerow-router"
                $0.version = HedgerowVersion.current
                $0.extensions = ["binary_tensor_data"]
            }))
        case .modelReady, .modelMetadata, .modelInfer:
            let model: ModelName
            let selector: VersionSelector
            do throws(HedgerowError) {
                (model, selector) = try Self.target(of: message)
            } catch {
                return loop.makeSucceededFuture(.grpcError(error))
            }
            if method == .modelReady {
                // Ready means the routing table has replicas for it, as GET /v2/models/{m}/ready says.
                do throws(HedgerowError) {
                    _ = try store.current.resolve(model: model, selector: selector)
                    return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ModelReadyResponse.with { $0.ready = true }))
                } catch {
                    return loop.makeSucceededFuture(.grpcError(error))
                }
            }
            let action: InferenceRoute.Action = method == .modelInfer ? .v2Infer : .v2Metadata
            return forward(request, route: .model(model, selector, action), model: model, selector: selector, action: action,
                           context: context, grpcMessage: message).map { $0.asGRPC() }
        }
    }

    /// The model and selector of a model-bound call: field 2 empty is the latest version, a number that version,
    /// anything else a label (as `/labels/{l}` in the HTTP API).
    static func target(of message: ByteBuffer) throws(HedgerowError) -> (ModelName, VersionSelector) {
        let fields: GRPCModelFields
        switch GRPCModelFields.read(message) {
        case .success(let read): fields = read
        case .failure(let malformed): throw HedgerowError(.badRequest, "malformed request message: \(malformed.message)")
        }
        let model = try ModelName(fields.name)
        guard !fields.version.isEmpty else { return (model, .latest) }
        if fields.version.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return (model, .version(try ModelVersion(parsing: Substring(fields.version))))
        }
        guard ModelName.isValid(fields.version) else {
            throw HedgerowError(.badRequest, "invalid version or label \(ModelName.quoted(Substring(fields.version))) for model '\(model)': a version number, or a label of 1-128 characters of A-Z a-z 0-9 _ . -")
        }
        return (model, .label(fields.version))
    }
}
