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
        guard context.isHTTP2 else {
            return loop.makeSucceededFuture(.error(HedgerowError(.badRequest, "gRPC needs HTTP/2; this request came over HTTP/1.1")))
        }
        guard let method = GRPCMethod(path: request.path) else {
            return loop.makeSucceededFuture(.grpcError(.unimplemented, "no gRPC method \(request.path.prefix(200)); Hedgerow serves \(GRPCMethod.service)'s \(GRPCMethod.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        guard request.method == .POST else {
            return loop.makeSucceededFuture(.grpcError(.unimplemented, "gRPC calls are POSTs"))
        }
        let message: ByteBuffer
        switch GRPCFrame.message(in: request.body, encoding: request.headers.first(name: "grpc-encoding")) {
        case .success(let read): message = read
        case .failure(let malformed): return loop.makeSucceededFuture(.grpcError(malformed.code, malformed.message))
        }
        let status = StatusRoutes(models: models, workerName: configuration.name)
        switch method {
        case .serverLive:
            return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ServerLiveResponse.with { $0.live = true }))
        case .serverReady:
            return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ServerReadyResponse.with { $0.ready = true }))
        case .serverMetadata:
            return loop.makeSucceededFuture(HTTPResponse.grpc(Inference_ServerMetadataResponse.with {
                $0.name = "hedgerow"
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
            switch method {
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
                return infer(model, selector, wire: .grpc, body: message, headers: request.headers, context: context).map { $0.asGRPC() }
            }
        }
    }

    /// The model and version a model-bound call names (fields 1 and 2), with the HTTP API's rules for both.
    static func target(of message: ByteBuffer) throws(HedgerowError) -> (ModelName, VersionSelector) {
        let fields: GRPCModelFields
        switch GRPCModelFields.read(message) {
        case .success(let read): fields = read
        case .failure(let malformed): throw HedgerowError(.badRequest, "malformed request message: \(malformed.message)")
        }
        let model = try ModelName(fields.name)
        guard !fields.version.isEmpty else { return (model, .latest) }
        return (model, .version(try ModelVersion(parsing: Substring(fields.version))))
    }

    private static func tensorMetadata(_ tensor: V2Tensor) -> Inference_ModelMetadataResponse.TensorMetadata {
        .with {
            $0.name = tensor.name
            $0.datatype = tensor.datatype
            $0.shape = tensor.shape.map { Int64($0) }
        }
    }
}
