import Foundation
import HedgerowCore
import HedgerowHTTP
import NIOHTTP1

/// `/admin/*`: what the synchronizer drives a worker with. Every call needs `Authorization: Bearer <token>`.
///
/// Invariants: the token is checked before anything else about the request (method, path, body) is looked at,
/// so an unauthenticated caller learns nothing but 401; a worker started without a token refuses every admin
/// call (there is no open mode: the admin API loads files and takes memory, so it is never left unguarded); no
/// answer or error ever contains the expected or the given token.
struct AdminRoutes {
    let responder: WorkerResponder

    func respond(to request: HTTPRequest) -> HTTPResponse {
        if let refusal = Self.authenticate(request.headers, expected: responder.configuration.adminToken) { return refusal }
        return route(request)
    }

    /// nil when the request carries exactly one `Authorization` header with the right bearer token; otherwise the
    /// 401 to send (see `BearerToken.authenticate`). A worker started without a token refuses the admin API.
    static func authenticate(_ headers: HTTPHeaders, expected: String?) -> HTTPResponse? {
        guard let expected else {
            return BearerToken.unauthorized("the admin API is disabled: this worker was started without --admin-token-file")
        }
        return BearerToken.authenticate(headers, expected: expected, hint: "the worker's --admin-token-file")
    }

    private func route(_ request: HTTPRequest) -> HTTPResponse {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst(2)
        if Array(segments) == ["state"] {
            guard request.method == .GET else { return .error(HedgerowError(.methodNotAllowed, "use GET on /admin/state")) }
            let c = responder.configuration
            return .json(WorkerStateReport(name: c.name, address: c.advertisedAddress, zone: c.zone, memoryMB: c.memoryMB, models: responder.models.report()))
        }
        let parts = Array(segments)
        guard parts.count == 4, parts[0] == "models", parts[2] == "versions" else {
            return .error(HedgerowError(.notFound, "no such admin endpoint: \(ModelName.quoted(request.path, limit: 200))"))
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
                let outcome = try responder.models.load(id, batching: settings.batching, requireReference: settings.requireReference ?? false, part: settings.part)
                return .json(LoadedModelVersion(model: id.model.rawValue, version: id.version.number, state: outcome == .available ? .available : .loading), status: outcome == .available ? .ok : .accepted)
            case .DELETE:
                guard responder.models.unload(id) else {
                    return .error(HedgerowError(.notFound, "\(id) is not loaded on this worker"))
                }
                return .json(LoadedModelVersion(model: id.model.rawValue, version: id.version.number, state: .unloading), status: .accepted)
            default:
                return .error(HedgerowError(.methodNotAllowed, "use PUT (load) or DELETE (unload) on /admin/models/\(id.model)/versions/\(id.version)"))
            }
        } catch {
            return .error(error)
        }
    }
}
