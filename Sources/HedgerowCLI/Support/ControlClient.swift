import Foundation
import HedgerowCore
import HedgerowHTTP
import NIOCore
import NIOPosix

/// A small HTTP/2 client for the CLI's own calls (status, readiness checks).
final class ControlClient: Sendable {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let pool: HTTP2ClientPool

    init() {
        pool = HTTP2ClientPool(group: group)
    }

    func get(_ address: String, _ path: String, timeout: TimeAmount = .seconds(2)) async throws -> HTTPResponse {
        try await pool.execute(HTTPRequest(method: .GET, target: path), to: address, timeout: timeout).response.get()
    }

    /// POST with an optional admin token (`Authorization: Bearer`).
    func post(_ address: String, _ path: String, body: String = "", token: String? = nil, timeout: TimeAmount = .seconds(2)) async throws -> HTTPResponse {
        var request = HTTPRequest(method: .POST, target: path, body: ByteBuffer(string: body))
        if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        return try await pool.execute(request, to: address, timeout: timeout).response.get()
    }

    func getJSON<T: Decodable>(_ type: T.Type, _ address: String, _ path: String) async throws -> T {
        let response = try await get(address, path)
        guard response.status.code == 200 else {
            throw HTTPServerError(message: "GET \(path) on \(address) answered \(response.status.code): \(String(buffer: response.body))")
        }
        return try JSONDecoder().decode(T.self, from: Data(response.body.readableBytesView))
    }

    func shutdown() async {
        pool.shutdown()
        try? await group.shutdownGracefully()
    }
}
