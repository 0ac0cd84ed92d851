import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import HedgerowRuntime
import Metrics
import NIOCore
import NIOHTTP1

/// `POST /v1/parts/{part}/versions/{v}/lookup`: a PS part answering an entry's lookup (`LookupMessages`).
///
/// The body is decoded, answered and encoded on an inference thread (a lookup may ask for many rows), never on the
/// event loop. The part is held for the whole answer, so an unload waits for it. Errors are the part's: 409 for
/// a lookup naming other content, 400 for rows this shard does not own, 404 when this worker does not hold it.
extension WorkerResponder {
    /// Bytes of a lookup request (a million ids and their table names fit well within it).
    static let maxLookupBytes = 16 << 20

    func lookup(_ request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        let loop = context.eventLoop
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 7, segments[1] == "v1", segments[2] == "parts", segments[4] == "versions", segments[6] == "lookup" else {
            return loop.makeSucceededFuture(.error(HedgerowError(.notFound, "no such endpoint: \(ModelName.quoted(request.path, limit: 200)) (lookups go to /v1/parts/{part}/versions/{v}/lookup)")))
        }
        guard request.method == .POST else { return loop.makeSucceededFuture(.error(methodNotAllowed(request))) }
        guard request.body.readableBytes <= Self.maxLookupBytes else {
            return loop.makeSucceededFuture(.error(HedgerowError(.payloadTooLarge, "lookup of \(request.body.readableBytes) bytes; at most \(Self.maxLookupBytes)")))
        }
        let lease: ModelManager.PartLease
        do {
            let id = ModelVersionID(model: try ModelName(String(segments[3])), version: try ModelVersion(parsing: segments[5]))
            lease = try models.acquirePart(id)
        } catch {
            return loop.makeSucceededFuture(.error(error))
        }
        let body = request.body
        return inferencePool.runIfActive(eventLoop: loop) { () -> HTTPResponse in
            defer { lease.release() }
            do throws(HedgerowError) {
                let asked = try LookupMessages.decodeRequest(Data(body.readableBytesView))
                let answers = try lease.part.answer(asked)
                let rows = asked.tables.reduce(0) { $0 + $1.rows.count }
                Counter(label: MetricNames.workerRowsServed, dimensions: [("model", lease.id.model.rawValue)]).increment(by: rows)
                return HTTPResponse(status: .ok, headers: ["content-type": LookupMessages.contentType], body: ByteBuffer(bytes: LookupMessages.encode(answers)))
            } catch {
                if error.kind == .conflict {
                    Counter(label: MetricNames.workerLookupDigestMismatches, dimensions: [("model", lease.id.model.rawValue)]).increment()
                }
                return .error(error)
            }
        }.flatMapErrorThrowing { _ in
            lease.release()
            return .error(HedgerowError(.unavailable, "worker is shutting down"))
        }
    }
}
