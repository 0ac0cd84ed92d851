import Foundation
import HedgerowCore
import HedgerowHTTP
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Registers the worker with its synchronizer and keeps it registered: `POST /v1/workers/heartbeat` every
/// interval until graceful shutdown. A failed heartbeat is logged once per outage, not once per attempt.
struct Heartbeat: Service {
    let synchronizer: String
    let message: WorkerHeartbeat
    let interval: Duration
    let client: HTTP2ClientPool
    /// The admin token, sent as a bearer token: a synchronizer started with one refuses heartbeats without it.
    let token: String?
    let logger: Logger

    func run() async throws {
        let body = try JSONEncoder().encode(message)
        var failing = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var request = HTTPRequest(method: .POST, target: "/v1/workers/heartbeat", headers: ["content-type": "application/json"], body: ByteBuffer(bytes: body))
            if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
            do {
                let response = try await client.execute(request, to: synchronizer, timeout: .seconds(2)).response.get()
                guard response.status == .ok else {
                    throw HTTPServerError(message: "synchronizer answered \(response.status.code): \(String(buffer: response.body).prefix(300))")
                }
                if failing { logger.info("heartbeat reaches the synchronizer again", metadata: ["synchronizer": "\(synchronizer)"]) }
                failing = false
            } catch {
                if !failing { logger.warning("heartbeat failed; still serving what is loaded", metadata: ["synchronizer": "\(synchronizer)", "error": "\(error)"]) }
                failing = true
            }
            try? await Task.sleep(for: interval)
        }
    }
}
