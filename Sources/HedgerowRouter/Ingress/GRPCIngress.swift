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
        let call: GRPCCall
        switch GRPCCall.read(request, isHTTP2: context.isHTTP2) {
        case .call(let read): call = read
        case .refused(let answer): return loop.makeSucceededFuture(answer)
        }
        switch call.method {
        case .serverLive:
            return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ServerLiveResponse.with { $0.live = true }))
        case .serverReady:
            let ready = store.current.generation > 0
            return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ServerReadyResponse.with { $0.ready = ready }))
        case .serverMetadata:
            return loop.makeSucceededFuture(GRPCCall.serverMetadata(name: "hedgerow-router"))
        case .modelReady, .modelMetadata, .modelInfer:
            let model: ModelName
            let selector: VersionSelector
            do throws(HedgerowError) {
                (model, selector) = try call.target(labels: true)
            } catch {
                return loop.makeSucceededFuture(.grpcError(error))
            }
            if call.method == .modelReady {
                // Ready means the routing table has replicas for it, as GET /v2/models/{m}/ready says.
                do throws(HedgerowError) {
                    _ = try store.current.resolve(model: model, selector: selector)
                    return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ModelReadyResponse.with { $0.ready = true }))
                } catch {
                    return loop.makeSucceededFuture(.grpcError(error))
                }
            }
            let action: InferenceRoute.Action = call.method == .modelInfer ? .v2Infer : .v2Metadata
            return forward(request, route: .model(model, selector, action), model: model, selector: selector, action: action,
                           context: context, grpcMessage: call.message).map { $0.asGRPC() }
        }
    }
}
