import Foundation
import HedgerowCore
import HedgerowGRPC
import HedgerowRuntime
import SwiftProtobuf

/// The worker's request path without HTTP or batching: decode a body as the inference route does, run the graph,
/// encode the answer.
///
/// Why this is public: the codecs are internal to the worker, and the fuzz targets (and their replayers, which run
/// in plain `swift build`/`swift test` builds, release included) must reach exactly the code a request reaches.
/// One narrow public function does that in every build configuration; `@testable import` would only work in
/// builds compiled for testing. Nothing in the worker calls it.
public enum InferenceCodecs {
    public enum API: Sendable {
        /// `POST /v2/models/{m}/infer`
        case kserveV2
        /// `POST /v1/models/{m}:predict`
        case tfServing
    }

    /// The JSON answer the worker would send for `body`, or the error it would answer with.
    public static func answer(_ body: Data, api: API, model: ModelVersionID, graph: ModelGraph) throws(HedgerowError) -> String {
        switch api {
        case .kserveV2:
            let request = try KServeCodec.decode(body, graph: graph)
            return String(decoding: KServeCodec.encode(try graph.run(request.feeds), request: request, model: model, graph: graph).body, as: UTF8.self)
        case .tfServing:
            let (feeds, format) = try TFServingCodec.decode(body, graph: graph)
            return TFServingCodec.encode(try graph.run(feeds), graph: graph, format: format)
        }
    }

    /// The serialized `ModelInferResponse` the worker would answer a gRPC `ModelInferRequest` message with, or the
    /// error it would answer with.
    public static func grpcAnswer(_ message: Data, model: ModelVersionID, graph: ModelGraph) throws(HedgerowError) -> Data {
        let request = try GRPCInferCodec.decode(message, graph: graph)
        let response = GRPCInferCodec.encode(try graph.run(request.feeds), request: request, model: model, graph: graph)
        do { return try response.serializedData() } catch { throw HedgerowError(.internalError, "answer not encodable: \(error)") }
    }
}
