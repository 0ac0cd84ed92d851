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
            do {
                let message = try JSONDecoder().decode(WorkerHeartbeat.self, from: Data(request.body.readableBytesView))
                guard !message.name.isEmpty, (try? HostAndPort.parse(message.address)) != nil else {
                    return loop.makeSucceededFuture(.error(HedgerowError(.badRequest, "heartbeat needs a name and an address HOST:PORT")))
                }
                inventory.heartbeat(message, now: clock())
                return loop.makeSucceededFuture(.jsonBytes(.init(string: #"{"ok":true}"#)))
            } catch {
                return loop.makeSucceededFuture(.error(HedgerowError(.badRequest, "malformed heartbeat: \(error)")))
            }
        case (.GET, "/metrics"):
            return loop.makeSucceededFuture(MetricsEndpoint.response())
        case (.GET, "/v2/health/live"), (.GET, "/v2/health/ready"):
            return loop.makeSucceededFuture(.jsonBytes(.init(string: #"{"live":true}"#)))
        default:
            return loop.makeSucceededFuture(.error(HedgerowError(.notFound, "no such endpoint: \(request.method) \(request.path)")))
        }
    }
}
