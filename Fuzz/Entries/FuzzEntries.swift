import Foundation
import HedgerowCore
import HedgerowGRPC
import HedgerowRuntime
import HedgerowSynchronizer
import HedgerowWorker

/// One entry per fuzz target: bytes in, no result. Every entry runs the production code path for its input and
/// then checks what must hold whatever the bytes were (an answer is valid JSON, a decoded value survives a round
/// trip). A violated property is a `fatalError`, so the fuzzer records it like any other crash. Refusals (thrown
/// errors) are the expected outcome for most inputs and end the run quietly.
public enum FuzzEntries {
    /// `POST /v2/models/{m}/infer` against the digits MLP (one FP32 input), the recommender (two INT64 inputs) and
    /// the churn pipeline (BYTES and FP32 inputs).
    public static func kserve(_ bytes: UnsafeRawBufferPointer) {
        infer(Data(bytes), api: .kserveV2)
    }

    /// `POST /v1/models/{m}:predict` against the same three models.
    public static func tfServing(_ bytes: UnsafeRawBufferPointer) {
        infer(Data(bytes), api: .tfServing)
    }

    private static func infer(_ body: Data, api: InferenceCodecs.API) {
        for (id, graph) in FuzzModels.all {
            guard let answer = try? InferenceCodecs.answer(body, api: api, model: id, graph: graph) else { continue }
            guard (try? JSONSerialization.jsonObject(with: Data(answer.utf8))) is [String: Any] else {
                fatalError("\(id): the answer is not a JSON object: \(answer.prefix(300))")
            }
        }
    }

    /// A gRPC `ModelInferRequest` message (what follows the 5-byte prefix) against the same three models; an
    /// answer must decode as a `ModelInferResponse` with one raw content per output.
    public static func grpcInfer(_ bytes: UnsafeRawBufferPointer) {
        for (id, graph) in FuzzModels.all {
            guard let answer = try? InferenceCodecs.grpcAnswer(Data(bytes), model: id, graph: graph) else { continue }
            guard let response = try? Inference_ModelInferResponse(serializedBytes: answer),
                  response.rawOutputContents.count == response.outputs.count else {
                fatalError("\(id): the answer is not a ModelInferResponse with one raw content per output")
            }
        }
    }

    /// The desired-state file as the synchronizer reads it from disk.
    public static func desiredState(_ bytes: UnsafeRawBufferPointer) {
        _ = try? DesiredStateParser.parse(contents: Data(bytes), file: "/fuzz/desired-state.yaml")
    }

    /// `GET /v1/routes` as a router decodes it, then every lookup a request can make in the table.
    public static func routingTable(_ bytes: UnsafeRawBufferPointer) {
        guard let table = try? JSONDecoder().decode(RoutingTable.self, from: Data(bytes)) else { return }
        roundTrip(table)
        for (name, routes) in table.models {
            guard let model = try? ModelName(name) else { continue }
            _ = try? table.resolve(model: model, selector: .latest)
            for label in routes.labels.keys { _ = try? table.resolve(model: model, selector: .label(label)) }
            for key in routes.versions.keys {
                guard let version = try? ModelVersion(parsing: Substring(key)) else { continue }
                _ = try? table.resolve(model: model, selector: .version(version))
            }
        }
    }

    /// `POST /v1/workers/heartbeat`, `GET /admin/state` and the load call's body, as their receivers decode them.
    public static func workerMessages(_ bytes: UnsafeRawBufferPointer) {
        let data = Data(bytes)
        if let heartbeat = try? JSONDecoder().decode(WorkerHeartbeat.self, from: data) { roundTrip(heartbeat) }
        if let report = try? JSONDecoder().decode(WorkerStateReport.self, from: data) {
            roundTrip(report)
            _ = report.models.map(\.id)
        }
        if let load = try? JSONDecoder().decode(LoadRequest.self, from: data) { roundTrip(load) }
    }

    /// A value that decoded must encode and decode to itself: what one role sends, the other reads the same.
    private static func roundTrip<T: Codable & Equatable>(_ value: T) {
        guard let encoded = try? JSONEncoder().encode(value) else { fatalError("\(T.self) decoded but does not encode") }
        guard let again = try? JSONDecoder().decode(T.self, from: encoded), again == value else {
            fatalError("\(T.self) does not survive a round trip: \(String(decoding: encoded, as: UTF8.self).prefix(300))")
        }
    }
}
