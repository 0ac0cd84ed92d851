import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import NIOConcurrencyHelpers
import NIOCore

/// The synchronizer's HTTP API: `/v1/routes` (long-poll), `/v1/state`, `/v1/workers/heartbeat`, `/metrics`,
/// `/v2/health/live`, and two calls that change state and take the admin token when one is configured:
/// `POST /v1/workers/{name}/crashed` (a supervisor says how a worker died) and
/// `POST /v1/poisoned/{model}/versions/{version}/clear` (the user lifts a poisoning).
final class SynchronizerResponder: HTTPResponder {
    let publisher: RoutesPublisher
    let inventory: WorkerInventory
    let report: NIOLockedValueBox<SynchronizerStateReport>
    let poisoned: PoisonRegistry
    let adminToken: String?
    let clock: @Sendable () -> Double

    /// Longest crash report kept (the last log lines a supervisor sends).
    static let maxCrashReportBytes = 4096

    init(
        publisher: RoutesPublisher, inventory: WorkerInventory, report: NIOLockedValueBox<SynchronizerStateReport>,
        poisoned: PoisonRegistry, adminToken: String?, clock: @escaping @Sendable () -> Double
    ) {
        self.publisher = publisher
        self.inventory = inventory
        self.report = report
        self.poisoned = poisoned
        self.adminToken = adminToken
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
        case (.POST, _) where request.path.hasPrefix("/v1/workers/") || request.path.hasPrefix("/v1/poisoned/"):
            return loop.makeSucceededFuture(poisonCall(request))
        default:
            return loop.makeSucceededFuture(.error(HedgerowError(.notFound, "no such endpoint: \(request.method) \(request.path)")))
        }
    }

    private func poisonCall(_ request: HTTPRequest) -> HTTPResponse {
        if let adminToken {
            guard let given = request.headers.first(name: "authorization"), BearerToken.matches(header: given, expected: adminToken) else {
                return .error(HedgerowError(.unauthorized, "missing or wrong admin token (send Authorization: Bearer <token>)"))
            }
        }
        let parts = request.path.split(separator: "/").map(String.init)
        switch parts.count {
        case 4 where parts[1] == "workers" && parts[3] == "crashed":
            let worker = parts[2]
            guard (1...128).contains(worker.utf8.count), worker.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                return .error(HedgerowError(.badRequest, "worker names are 1-128 printable ASCII characters"))
            }
            let text = String(decoding: request.body.readableBytesView.suffix(Self.maxCrashReportBytes), as: UTF8.self)
            poisoned.withState { $0.crashReported(worker: worker, text: text, now: clock()) }
            return .jsonBytes(.init(string: #"{"ok":true}"#))
        case 6 where parts[1] == "poisoned" && parts[3] == "versions" && parts[5] == "clear":
            let id: ModelVersionID
            do { id = ModelVersionID(model: try ModelName(parts[2]), version: try ModelVersion(parsing: Substring(parts[4]))) } catch {
                return .error(error)
            }
            guard poisoned.withState({ $0.clear(id) }) else {
                return .error(HedgerowError(.notFound, "\(id) is not poisoned"))
            }
            return .jsonBytes(.init(string: #"{"cleared":true}"#))
        default:
            return .error(HedgerowError(.notFound, "no such endpoint: \(request.method) \(request.path)"))
        }
    }
}
