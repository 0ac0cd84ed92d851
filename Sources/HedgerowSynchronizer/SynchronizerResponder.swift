import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The synchronizer's HTTP API: `/v1/routes` (long-poll), `/v1/state`, `/v1/workers/heartbeat`, `/metrics`,
/// `/v2/health/live`, and two calls that change state and take the admin token when one is configured:
/// `POST /v1/workers/{name}/crashed` (a supervisor says how a worker died) and
/// `POST /v1/poisoned/{model}/versions/{version}/clear` (the user lifts a poisoning), and
/// `POST /v1/canary/reports` (a router's canary totals; an abort they cause is published at once).
final class SynchronizerResponder: HTTPResponder {
    let publisher: RoutesPublisher
    let inventory: WorkerInventory
    let report: NIOLockedValueBox<SynchronizerStateReport>
    let poisoned: PoisonRegistry
    let canaries: CanaryRegistry
    let adminToken: String?
    let clock: @Sendable () -> Double
    let logger: Logger

    /// Longest crash report kept (the last log lines a supervisor sends).
    static let maxCrashReportBytes = 4096

    init(
        publisher: RoutesPublisher, inventory: WorkerInventory, report: NIOLockedValueBox<SynchronizerStateReport>,
        poisoned: PoisonRegistry, canaries: CanaryRegistry = CanaryRegistry(), adminToken: String?, clock: @escaping @Sendable () -> Double,
        logger: Logger = Logger(label: "hedgerow.synchronizer")
    ) {
        self.canaries = canaries
        self.logger = logger
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
            // Routers that ask for deltas get only what changed since `after` when the history covers it.
            guard request.query("delta") == "1" else {
                return publisher.table(after: after, on: loop).map { HTTPResponse.json($0) }.flatMapErrorThrowing { error in
                    .error(HedgerowError(.unavailable, "\(error)"))
                }
            }
            return publisher.update(after: after, on: loop).map { HTTPResponse.json($0) }.flatMapErrorThrowing { error in
                .error(HedgerowError(.unavailable, "\(error)"))
            }
        case (.GET, "/v1/state"):
            // Canary totals move with every router report, not with reconcile rounds: read them now.
            var state = report.withLockedValue { $0 }
            let statuses = canaries.statuses
            state.canaries = statuses.isEmpty ? nil : statuses
            return loop.makeSucceededFuture(.json(state))
        case (.POST, "/v1/workers/heartbeat"):
            return loop.makeSucceededFuture(heartbeat(request))
        case (.GET, "/metrics"):
            return loop.makeSucceededFuture(MetricsEndpoint.response())
        case (.GET, "/v2/health/live"), (.GET, "/v2/health/ready"):
            return loop.makeSucceededFuture(.jsonBytes(.init(string: #"{"live":true}"#)))
        case (.POST, "/v1/canary/reports"):
            return loop.makeSucceededFuture(canaryReport(request))
        case (.POST, _) where request.path.hasPrefix("/v1/workers/") || request.path.hasPrefix("/v1/poisoned/"):
            return loop.makeSucceededFuture(poisonCall(request))
        default:
            return loop.makeSucceededFuture(.error(HedgerowError(.notFound, "no such endpoint: \(request.method) \(request.path)")))
        }
    }

    func poisonCall(_ request: HTTPRequest) -> HTTPResponse {
        if let adminToken, let refusal = BearerToken.authenticate(request.headers, expected: adminToken, hint: "the synchronizer's --admin-token-file") {
            return refusal
        }
        let parts = request.path.split(separator: "/").map(String.init)
        switch parts.count {
        case 4 where parts[1] == "workers" && parts[3] == "crashed":
            let worker = parts[2]
            guard ModelName.isValid(worker) else {
                return .error(HedgerowError(.badRequest, "invalid worker name \(ModelName.quoted(worker)): use 1-128 characters of A-Z a-z 0-9 _ . -"))
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

    /// `POST /v1/canary/reports`: a router's running totals per canary (`CanaryReport`). An abort they cause is
    /// written into the routing table and published now, not at the next reconcile round, so that every router
    /// stops sending to the candidate within its long-poll's round trip.
    func canaryReport(_ request: HTTPRequest) -> HTTPResponse {
        if let adminToken, let refusal = BearerToken.authenticate(request.headers, expected: adminToken, hint: "the router's --admin-token-file (the synchronizer's token)") {
            return refusal
        }
        let report: CanaryReport
        do {
            report = try JSONDecoder().decode(CanaryReport.self, from: Data(request.body.readableBytesView))
        } catch {
            return .error(HedgerowError(.badRequest, "malformed canary report: expected JSON {\"router\", \"canaries\": [...]}: \(ModelName.quoted(String(describing: error), limit: 200))"))
        }
        guard report.canaries.count <= CanaryReport.maxEntries, (1...256).contains(report.router.utf8.count) else {
            return .error(HedgerowError(.badRequest, "a canary report names a router of 1-256 bytes and holds at most \(CanaryReport.maxEntries) canaries"))
        }
        let aborted = canaries.withVerdicts { $0.receive(report, now: clock()) }
        if !aborted.isEmpty {
            for abort in aborted {
                logger.error("canary \(abort.model) v\(abort.candidate) aborted: \(abort.reason); routers stop mirroring and splitting to it (nothing is unloaded) until the canary block is edited")
            }
            publisher.publish(canaries.withVerdicts { $0.applied(to: publisher.current.models) })
            canaries.publishGauges()
        }
        return .jsonBytes(.init(string: #"{"ok":true}"#))
    }

    /// `POST /v1/workers/heartbeat`: 200 when recorded; 400 for a malformed or invalid message
    /// (`WorkerIdentity.validate`); 409 when the name belongs to another live worker; 503 when the inventory is full.
    func heartbeat(_ request: HTTPRequest) -> HTTPResponse {
        // With an admin token, only workers holding it may register: the synchronizer sends that token to every
        // address it learns from a heartbeat.
        if let adminToken, let refusal = BearerToken.authenticate(request.headers, expected: adminToken, hint: "the worker's --admin-token-file (the synchronizer's token)") {
            return refusal
        }
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
            return .error(HedgerowError(.conflict, reason))
        case .full(let reason):
            return .error(HedgerowError(.unavailable, reason))
        }
    }
}
