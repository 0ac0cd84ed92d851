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
    /// 401 to send (with `WWW-Authenticate: Bearer`). The messages say what to fix, never what the token is.
    static func authenticate(_ headers: HTTPHeaders, expected: String?) -> HTTPResponse? {
        let refusal: HedgerowError
        // The raw values: no comma splitting or whitespace trimming, so " Bearer t" or "Bearer t " stays wrong.
        let given = headers["authorization"]
        if expected == nil {
            refusal = HedgerowError(.unauthorized, "the admin API is disabled: this worker was started without --admin-token-file")
        } else if given.isEmpty {
            refusal = HedgerowError(.unauthorized, "missing admin token: send Authorization: Bearer <token>")
        } else if given.count > 1 {
            refusal = HedgerowError(.unauthorized, "more than one Authorization header: send exactly one, Authorization: Bearer <token>")
        } else if let expected, BearerToken.matches(header: given[0], expected: expected) {
            return nil
        } else {
            refusal = HedgerowError(.unauthorized, "wrong admin token or scheme: send Authorization: Bearer <token> with the worker's --admin-token-file")
        }
        var response = HTTPResponse.error(refusal)
        response.headers.replaceOrAdd(name: "www-authenticate", value: #"Bearer realm="hedgerow-admin""#)
        return response
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
                let outcome = try responder.models.load(id, batching: settings.batching)
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

/// Bearer-token check (RFC 6750): the scheme `Bearer` (any case), one space, then the token, byte for byte.
/// No trimming: a token with extra whitespace around it, a prefix of the token, or the token plus more is wrong.
enum BearerToken {
    static func matches(header: String, expected: String) -> Bool {
        let bytes = Array(header.utf8)
        let scheme = Array("bearer ".utf8)
        guard bytes.count > scheme.count else { return false }
        for i in 0..<scheme.count where asciiLowercased(bytes[i]) != scheme[i] { return false }
        return ConstantTime.equal(bytes[scheme.count...], Array(expected.utf8))
    }

    private static func asciiLowercased(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c + 32 : c }
}

/// Comparison of secrets whose running time does not depend on where they differ.
enum ConstantTime {
    /// Whether `given` equals `expected`. Every byte of `expected` is read, and as many bytes of `given`, whatever
    /// they hold: no exit at the first difference (which would let a caller find the token byte by byte by timing),
    /// and a length difference only sets a bit instead of returning early (which would let it find the length).
    /// The work depends on `expected.count` alone, which the caller cannot vary. An empty `expected` matches
    /// nothing.
    static func equal<Given: Collection<UInt8>, Expected: Collection<UInt8>>(_ given: Given, _ expected: Expected) -> Bool {
        var difference: UInt = given.count == expected.count ? 0 : 1
        var g = given.startIndex
        for e in expected {
            // Past the end of `given`, compare against a byte of `expected` itself (XOR 0xFF never equals it).
            let other: UInt8
            if g < given.endIndex {
                other = given[g]
                g = given.index(after: g)
            } else {
                other = ~e
            }
            difference |= UInt(other ^ e)
        }
        return difference == 0 && !expected.isEmpty
    }
}
