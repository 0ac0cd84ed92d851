import Foundation
import HedgerowCore
import HedgerowGRPC
import HedgerowHTTP
import NIOCore

/// `inference.GRPCInferenceService` on a worker: the six calls of KServe v2 over gRPC, on the worker's one port.
///
/// Inference goes through the same path as HTTP (`WorkerResponder.infer`: admission, pool, batcher), only the
/// message is read and the answer written as gRPC; every error, from framing to the model's own, reaches the client
/// as a gRPC status (`HTTPResponse.asGRPC`). Requests are read on the event loop only as far as the model's name
/// and version (`GRPCModelFields`); the tensors are decoded on the inference pool.
extension WorkerResponder {
    func grpc(_ request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        let loop = context.eventLoop
        let call: GRPCCall
        switch GRPCCall.read(request, isHTTP2: context.isHTTP2) {
        case .call(let read): call = read
        case .refused(let answer): return loop.makeSucceededFuture(answer)
        }
        let status = StatusRoutes(models: models, workerName: configuration.name)
        switch call.method {
        case .serverLive:
            return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ServerLiveResponse.with { $0.live = true }))
        case .serverReady:
            return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ServerReadyResponse.with { $0.ready = true }))
        case .serverMetadata:
            return loop.makeSucceededFuture(GRPCCall.serverMetadata(name: "hedgerow"))
        case .modelReady, .modelMetadata, .modelInfer:
            let model: ModelName
            let selector: VersionSelector
            do throws(HedgerowError) {
                (model, selector) = try call.target(labels: false)
            } catch {
                return loop.makeSucceededFuture(.grpcError(error))
            }
            switch call.method {
            case .modelReady:
                do throws(HedgerowError) {
                    let ready = try status.isReady(model, selector)
                    return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ModelReadyResponse.with { $0.ready = ready }))
                } catch {
                    return loop.makeSucceededFuture(.grpcError(error))
                }
            case .modelMetadata:
                do throws(HedgerowError) {
                    let metadata = try status.v2MetadataValue(model, selector)
                    return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ModelMetadataResponse.with {
                        $0.name = metadata.name
                        $0.versions = metadata.versions
                        $0.platform = metadata.platform
                        $0.inputs = metadata.inputs.map(Self.tensorMetadata)
                        $0.outputs = metadata.outputs.map(Self.tensorMetadata)
                    }))
                } catch {
                    return loop.makeSucceededFuture(.grpcError(error))
                }
            default:
                return infer(model, selector, wire: .grpc, body: call.message, headers: request.headers, context: context).map { $0.asGRPC() }
            }
        }
    }

    private static func tensorMetadata(_ tensor: V2Tensor) -> Inference_ModelMetadataResponse.TensorMetadata {
        .with {
            $0.name = tensor.name
            $0.datatype = tensor.datatype
            $0.shape = tensor.shape.map { Int64($0) }
        }
    }
}
