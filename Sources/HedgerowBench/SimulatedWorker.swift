import Foundation
import HedgerowCore
import HedgerowHTTP
import NIOConcurrencyHelpers
import NIOCore

/// A worker as the synchronizer sees it, without a runtime: it answers `GET /admin/state`, load and unload calls
/// the way a real worker does (loads LOADING for `loadSeconds`, then AVAILABLE with a measured memory; batching
/// echoed; unload of what it does not hold is 404), each after `adminDelay` (the network and the worker's own
/// work), and it heartbeats through `SimulatedFleet`. Silenced, it stops heartbeating and never answers in time:
/// a machine that lost power, which the synchronizer can only notice by missed heartbeats.
final class SimulatedWorker: HTTPResponder, Sendable {
    let name: String
    let zone: String
    let memoryMB: Int
    /// Memory each loaded version reports, bytes.
    let modelBytes: Int
    let loadSeconds: Double
    let adminDelay: TimeAmount

    struct Held {
        var model: String
        var version: Int
        var readyAt: Double
        var batching: BatchingPolicy?
    }

    struct State {
        var address = ""
        var held: [String: Held] = [:]
        var silent = false
    }

    let state = NIOLockedValueBox(State())

    init(name: String, zone: String, memoryMB: Int, modelBytes: Int, loadSeconds: Double, adminDelay: TimeAmount) {
        self.name = name
        self.zone = zone
        self.memoryMB = memoryMB
        self.modelBytes = modelBytes
        self.loadSeconds = loadSeconds
        self.adminDelay = adminDelay
    }

    /// Seconds on a monotonic clock.
    static func now() -> Double { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }

    var address: String { state.withLockedValue { $0.address } }
    var isSilent: Bool { state.withLockedValue { $0.silent } }
    var heartbeat: WorkerHeartbeat { WorkerHeartbeat(name: name, address: address, zone: zone, memoryMB: memoryMB) }

    func silence() { state.withLockedValue { $0.silent = true } }

    func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        let now = Self.now()
        let (silent, response) = state.withLockedValue { state -> (Bool, HTTPResponse) in
            (state.silent, state.silent ? .error(HedgerowError(.unavailable, "silenced")) : Self.answer(request, &state, worker: self, now: now))
        }
        // A silenced worker answers long after any caller's timeout: the caller sees a timeout, not a refusal.
        return context.eventLoop.scheduleTask(in: silent ? .seconds(30) : adminDelay) { response }.futureResult
    }

    private static func answer(_ request: HTTPRequest, _ state: inout State, worker: SimulatedWorker, now: Double) -> HTTPResponse {
        let parts = request.path.split(separator: "/")
        switch (request.method, parts.count) {
        case (.GET, 2) where request.path == "/admin/state":
            let models = state.held.values.sorted { ($0.model, $0.version) < ($1.model, $1.version) }.map { held in
                let ready = now >= held.readyAt
                return LoadedModelVersion(
                    model: held.model, version: held.version, state: ready ? .available : .loading, memoryBytes: ready ? worker.modelBytes : 0,
                    batching: held.batching, requestedBatching: held.batching
                )
            }
            return .json(WorkerStateReport(name: worker.name, address: state.address, zone: worker.zone, memoryMB: worker.memoryMB, models: models))
        case (.PUT, 5) where parts[0] == "admin" && parts[1] == "models" && parts[3] == "versions":
            guard let version = Int(parts[4]), let load = try? JSONDecoder().decode(LoadRequest.self, from: Data(request.body.readableBytesView)) else {
                return .error(HedgerowError(.badRequest, "bad load call"))
            }
            let key = "\(parts[2])/\(version)"
            if state.held[key] == nil {
                state.held[key] = Held(model: String(parts[2]), version: version, readyAt: now + worker.loadSeconds, batching: load.batching)
            } else {
                state.held[key]?.batching = load.batching
            }
            let ready = (state.held[key]?.readyAt ?? now) <= now
            return .json(LoadedModelVersion(model: String(parts[2]), version: version, state: ready ? .available : .loading), status: ready ? .ok : .accepted)
        case (.DELETE, 5) where parts[0] == "admin" && parts[1] == "models" && parts[3] == "versions":
            guard let version = Int(parts[4]), state.held.removeValue(forKey: "\(parts[2])/\(version)") != nil else {
                return .error(HedgerowError(.notFound, "\(parts[2]) v\(parts[4]) is not loaded on this worker"))
            }
            return .json(LoadedModelVersion(model: String(parts[2]), version: version, state: .unloading), status: .accepted)
        default:
            return .error(HedgerowError(.notFound, "no such endpoint: \(request.method) \(request.path)"))
        }
    }
}
