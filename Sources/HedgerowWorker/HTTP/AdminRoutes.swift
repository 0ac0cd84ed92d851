import Foundation
import HedgerowCore
import HedgerowHTTP
import NIOHTTP1

/// `/admin/*`: what the synchronizer drives a worker with. Every call needs `Authorization: Bearer <token>`.
struct AdminRoutes {
    let responder: WorkerResponder

    func respond(to request: HTTPRequest) -> HTTPResponse {
        guard let expected = responder.configuration.adminToken else {
            return .error(HedgerowError(.unauthorized, "the admin API is disabled: this worker was started without --admin-token-file"))
        }
        guard let given = request.headers.first(name: "authorization"), BearerToken.matches(header: given, expected: expected) else {
            return .error(HedgerowError(.unauthorized, "missing or wrong admin token (send Authorization: Bearer <token>)"))
        }
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst(2)
        if Array(segments) == ["state"] {
            guard request.method == .GET else { return .error(HedgerowError(.methodNotAllowed, "use GET on /admin/state")) }
            let c = responder.configuration
            return .json(WorkerStateReport(name: c.name, address: c.advertisedAddress, zone: c.zone, memoryMB: c.memoryMB, models: responder.models.report()))
        }
        let parts = Array(segments)
        guard parts.count == 4, parts[0] == "models", parts[2] == "versions" else {
            return .error(HedgerowError(.notFound, "no such admin endpoint: \(request.path)"))
        }
        do {
            let id = ModelVersionID(model: try ModelName(String(parts[1])), version: try ModelVersion(parsing: parts[3]))
            switch request.method {
            case .PUT:
                var settings = LoadRequest()
                if request.body.readableBytes > 0 {
                    do { settings = try JSONDecoder().decode(LoadRequest.self, from: Data(request.body.readableBytesView)) } catch {
                        return .error(HedgerowError(.badRequest, "load request body for \(id): \(error)"))
                    }
                }
                let outcome = try responder.models.load(id, batching: settings.batching)
                return .json(LoadedModelVersion(model: id.model.rawValue, version: id.version.number, state: outcome == .available ? .available : .loading), status: outcome == .available ? .ok : .accepted)
            case .DELETE:
                guard responder.models.unload(id) else {
                    return .error(HedgerowError(.notFound, "\(id) is not loaded on this worker"))
                }
                return .json(LoadedModelVersion(model: id.model.rawValue, version: id.version.number, state: .unloading), status: .accepted)
            default:
                return .error(HedgerowError(.methodNotAllowed, "use PUT (load) or DELETE (unload) on \(request.path)"))
            }
        } catch {
            return .error(error)
        }
    }
}

/// Bearer-token check in constant time (no early exit on the first differing byte).
enum BearerToken {
    static func matches(header: String, expected: String) -> Bool {
        let prefix = "Bearer "
        guard header.hasPrefix(prefix) else { return false }
        let given = Array(header.utf8.dropFirst(prefix.utf8.count))
        let wanted = Array(expected.utf8)
        var difference = UInt8(given.count == wanted.count ? 0 : 1)
        for i in 0..<wanted.count {
            difference |= wanted[i] ^ (i < given.count ? given[i] : 0)
        }
        return difference == 0
    }
}
