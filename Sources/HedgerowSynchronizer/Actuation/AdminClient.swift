import Foundation
import HedgerowCore
import HedgerowHTTP
import NIOCore
import NIOHTTP1

/// Calls the workers' admin API with the bearer token.
struct AdminClient: Sendable {
    let client: HTTP2ClientPool
    /// Each worker's calls go through one of these, the same one every time, so the synchronizer holds one
    /// connection per worker rather than one per worker and event loop (at 10,000 workers, the difference between
    /// 10,000 open files and 20,000 on a 2-core machine).
    let loops: [any EventLoop]
    let token: String?
    /// How long a state question may take: one heartbeat interval, so that a hung worker does not hold up the
    /// round for the others (it stays in on its last answer until it misses 3 heartbeats).
    let stateTimeout: TimeAmount

    func state(of address: String, timeout: TimeAmount? = nil) async throws -> WorkerStateReport {
        let response = try await send(.GET, "/admin/state", to: address, timeout: timeout ?? stateTimeout)
        guard response.status == .ok else { throw AdminCallError(message: "GET /admin/state on \(address) answered \(response.status.code): \(String(buffer: response.body))") }
        return try JSONDecoder().decode(WorkerStateReport.self, from: Data(response.body.readableBytesView))
    }

    /// Loads a version, or changes the settings of one already loaded (the call is idempotent).
    func load(_ id: ModelVersionID, batching: BatchingPolicy?, requireReference: Bool = false, part: ShardedPart? = nil, on address: String) async throws {
        let body = try JSONEncoder().encode(LoadRequest(batching: batching, requireReference: requireReference ? true : nil, part: part))
        try await expectSuccess(
            send(.PUT, "/admin/models/\(id.model)/versions/\(id.version)", to: address, body: ByteBuffer(bytes: body)),
            "load \(id) on \(address)"
        )
    }

    func unload(_ id: ModelVersionID, on address: String) async throws {
        let response = try await send(.DELETE, "/admin/models/\(id.model)/versions/\(id.version)", to: address)
        if response.status == .notFound { return }  // already gone: the goal is reached
        try expectSuccess(response, "unload \(id) on \(address)")
    }

    private func expectSuccess(_ response: HTTPResponse, _ what: String) throws {
        guard (200..<300).contains(response.status.code) else {
            throw AdminCallError(message: "\(what): worker answered \(response.status.code): \(String(buffer: response.body))")
        }
    }

    private func send(
        _ method: HTTPMethod, _ path: String, to address: String, body: ByteBuffer = ByteBuffer(), timeout: TimeAmount = .seconds(2)
    ) async throws -> HTTPResponse {
        var headers = HTTPHeaders()
        if let token { headers.add(name: "authorization", value: "Bearer \(token)") }
        if body.readableBytes > 0 { headers.add(name: "content-type", value: "application/json") }
        let loop = loops.isEmpty ? nil : loops[Int(UInt(bitPattern: address.hashValue) % UInt(loops.count))]
        return try await client.execute(HTTPRequest(method: method, target: path, headers: headers, body: body), to: address, on: loop, timeout: timeout)
            .response.get()
    }
}

struct AdminCallError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
