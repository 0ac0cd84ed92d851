import Foundation
import HedgerowCore
import HedgerowHTTP
import Logging
import NIOCore
import ServiceLifecycle

/// Sends this router's canary totals to the synchronizer (`POST /v1/canary/reports`) twice a second while they
/// change, and every `refresh` when they do not (a restarted synchronizer has lost what it was told, and a router
/// that stopped a canary on its own sends no more mirrors, so its totals stop changing), so that the synchronizer can
/// add up every router's comparisons, show them in `/v1/state` and latch an abort into the routing table. With an
/// admin token the report carries it: a forged report could hide a bad candidate. Reports are running totals, so a
/// lost one costs nothing but the time until the next.
struct CanaryReporter: Service {
    let synchronizer: String
    let scoreboard: CanaryScoreboard
    let client: HTTP2ClientPool
    let adminToken: String?
    let logger: Logger
    var interval: Duration = .milliseconds(500)
    var refresh: Duration = .seconds(10)

    func run() async throws {
        var sent: UInt64 = 0
        var sentAt = ContinuousClock.now
        var failing = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            let (changes, entries) = scoreboard.snapshot()
            guard !entries.isEmpty, changes != sent || ContinuousClock.now - sentAt >= refresh else { continue }
            var request = HTTPRequest(method: .POST, target: "/v1/canary/reports")
            request.headers.add(name: "content-type", value: "application/json")
            if let adminToken { request.headers.add(name: "authorization", value: "Bearer \(adminToken)") }
            do {
                request.body = ByteBuffer(bytes: try JSONEncoder().encode(CanaryReport(router: scoreboard.routerId, canaries: Array(entries.prefix(CanaryReport.maxEntries)))))
                let response = try await client.execute(request, to: synchronizer, timeout: .seconds(5)).response.get()
                guard response.status.code == 200 else {
                    throw HTTPServerError(message: "synchronizer answered \(response.status.code): \(String(buffer: response.body).prefix(300))")
                }
                sent = changes
                sentAt = ContinuousClock.now
                if failing { logger.info("canary reports reach the synchronizer again") }
                failing = false
            } catch {
                if !failing { logger.warning("cannot report canary comparisons to the synchronizer; this router still judges its own", metadata: ["error": "\(error)"]) }
                failing = true
            }
        }
    }
}
