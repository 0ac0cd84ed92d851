import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import NIOConcurrencyHelpers
import NIOCore

/// The synchronizer's HTTP API: `/v1/routes` (long-poll), `/v1/state`, `/v1/workers/heartbeat`, `/metrics`,
/// `/v2/health/live`.
final class SynchronizerResponder: HTTPResponder {
    let publisher: RoutesPublisher
    let inventory: WorkerInventory
    let report: NIOLockedValueBox<SynchronizerStateReport>
    let clock: @Sendable () -> Double

    init(publisher: RoutesPublisher, inventory: WorkerInventory, report: NIOLockedValueBox<SynchronizerStateReport>, clock: @escaping @Sendable () -> Double) {
        self.publisher = publisher
        self.inventory = inventory
        self.report = report
        self.clock = clock
    }

    func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        let loop = context.eventLoop
        switch (request.method, request.path) {
        case (.GET, "/v1/routes"):
            guard let after = Int(request.query("after") ?? "0") else {
                return loop.makeSucceededFuture(.error(HedgerowError(.badRequest, "'after' must be an integer generation")))
            }
            return publisher.table(after: after, on: loop).map { HTTPResponse.json($0) }.flatMapErrorThrowing { error in
                .error(HedgerowError(.unavailable, "\(error)"))
            }
        case (.GET, "/v1/state"):
            return loop.makeSucceededFuture(.json(report.withLockedValue { $0 }))
        case (.POST, "/v1/workers/heartbeat"):
            return loop.makeSucceededFuture(heartbeat(request))
        case (.GET, "/metrics"):
            return loop.makeSucceededFuture(MetricsEndpoint.response())
        case (.GET, "/v2/health/live"), (.GET, "/v2/health/ready"):
            return loop.makeSucceededFuture(.jsonBytes(.init(string: #"{"live":true}"#)))
        default:
            return loop.makeSucceededFuture(.error(HedgerowError(.notFound, "no such endpoint: \(request.method) \(request.path)")))
        }
    }

    /// `POST /v1/workers/heartbeat`: 200 when recorded; 400 for a malformed or invalid message
    /// (`WorkerIdentity.validate`); 409 when the name belongs to another live worker; 503 when the inventory is full.
    func heartbeat(_ request: HTTPRequest) -> HTTPResponse {
        let message: WorkerHeartbeat
        do {
            message = try JSONDecoder().decode(WorkerHeartbeat.self, from: Data(request.body.readableBytesView))
        } catch {
            return .error(HedgerowError(.badRequest, "malformed heartbeat: expected JSON {\"name\", \"address\", \"zone\", \"memoryMB\"}: \(ModelName.quoted(String(describing: error), limit: 200))"))
        }
        do throws(HedgerowError) {
            try WorkerIdentity.validate(message)
        } catch {
            return .error(error)
        }
        switch inventory.heartbeat(message, now: clock()) {
        case .accepted:
            return .jsonBytes(.init(string: #"{"ok":true}"#))
        case .conflict(let reason):
            // 409 Conflict: HedgerowError has no kind for it, so the `{"error"}` body is built here.
            return .json(ErrorBody(error: reason), status: .conflict)
        case .full(let reason):
            return .error(HedgerowError(.unavailable, reason))
        }
    }
}
