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
        // The same body as a router asking for deltas reads it: applied onto a table or refused, never half.
        if let update = try? JSONDecoder().decode(RoutesUpdate.self, from: Data(bytes)) {
            roundTrip(update)
            _ = update.applied(to: RoutingTable(generation: update.after ?? 0, models: [:]))
        }
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

    /// A PS part's lookup endpoint: a request body as `LookupMessages` decodes it, answered by shard 1 of a 3-way
    /// `mod` split of a 41-row table (as `WorkerResponder.lookup` does); every answer must decode as the entry
    /// reads it, with the rows asked for. The same bytes read as an answer must be refused or hold what was expected.
    public static func lookup(_ bytes: UnsafeRawBufferPointer) {
        let data = Data(bytes)
        _ = try? LookupMessages.decodeResponse(data, expected: [(rows: 2, width: 4), (rows: 0, width: 3)])
        guard let request = try? LookupMessages.decodeRequest(data), let answer = try? lookupPart.answer(request) else { return }
        let expected = request.tables.map { (rows: $0.rows.count, width: 4) }
        guard let values = try? LookupMessages.decodeResponse(LookupMessages.encode(answer), expected: expected), values == answer else {
            fatalError("a lookup answer does not decode as it was encoded")
        }
    }

    private static let lookupPart: ShardPart = {
        let layout = try? ShardLayout(rows: 41, shards: 3, scheme: .mod)
        guard let layout else { fatalError("layout") }
        let rows = (0..<layout.count(of: 1) * 4).map { Float($0) * 0.5 }
        return ShardPart(digest: "ranker/1/mod/3/user_emb", shard: 1, tables: ["user_emb": .init(layout: layout, rows: rows, width: 4)])
    }()

    /// A value that decoded must encode and decode to itself: what one role sends, the other reads the same.
    private static func roundTrip<T: Codable & Equatable>(_ value: T) {
        guard let encoded = try? JSONEncoder().encode(value) else { fatalError("\(T.self) decoded but does not encode") }
        guard let again = try? JSONDecoder().decode(T.self, from: encoded), again == value else {
            fatalError("\(T.self) does not survive a round trip: \(String(decoding: encoded, as: UTF8.self).prefix(300))")
        }
    }
}
