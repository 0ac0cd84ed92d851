import Foundation
import HedgerowCore

/// Waits until every model of the desired state is AVAILABLE on its replicas (as the synchronizer reports) and
/// answers ready through the router.
enum Readiness {
    struct NotReady: Error, Sendable {
        var message: String
        /// The synchronizer's last report, if it answered: what is served and what is not, with reasons.
        var report: SynchronizerStateReport?

        func render() -> String {
            guard let report, !report.versions.isEmpty || !(report.poisoned ?? []).isEmpty else { return "  problem       \(message)" }
            var lines = ["  models"]
            for v in report.versions {
                let available = v.replicas.filter { $0.state == "AVAILABLE" }.map { "\($0.worker) (\($0.address))" }
                var line = "    \(v.model) v\(v.version): \(v.readyReplicas)/\(v.desiredReplicas) replicas\(available.isEmpty ? "" : " on " + available.joined(separator: ", "))"
                let reasons = (v.problem.map { [$0] } ?? []) + v.replicas.compactMap { r in r.error.map { "\(r.worker): \($0)" } }
                if v.readyReplicas == 0 { line += " — NOT SERVED" }
                if !reasons.isEmpty { line += " (\(reasons.joined(separator: "; ")))" }
                lines.append(line)
            }
            for p in report.poisoned ?? [] {
                lines.append("    \(p.model) v\(p.version): NOT SERVED — poisoned: \(p.reason) (`hedgerow status` shows how it died)")
            }
            if let error = report.lastConfigError, report.configFileRefused { lines.append("  desired state refused: \(error)") }
            return lines.joined(separator: "\n")
        }
    }

    struct Summary: Sendable {
        var versions: [SynchronizerStateReport.VersionStatus]

        func render(routerURL: String, synchronizer: String, logs: String, tls: Bool = false) -> String {
            let protocols = tls ? "HTTP/2 and HTTP/1.1, cleartext and TLS (https:// on the same port)" : "HTTP/2 cleartext and HTTP/1.1"
            var lines = ["", "Hedgerow is up.", "  dashboard     \(routerURL)/dashboard   (live latency, hedges and replicas; open it in a browser)",
                         "  router        \(routerURL)   (\(protocols))",
                         "  synchronizer  http://\(synchronizer)   (hedgerow status --synchronizer \(synchronizer))", "  models"]
            for v in versions {
                lines.append("    \(v.model) v\(v.version): \(v.readyReplicas)/\(v.desiredReplicas) replicas on \(v.replicas.filter { $0.state == "AVAILABLE" }.map { "\($0.worker) (\($0.address))" }.joined(separator: ", "))")
            }
            if let first = versions.first {
                lines.append("  try           curl --http2-prior-knowledge -s \(routerURL)/v2/models/\(first.model)")
            }
            lines.append("  metrics       \(routerURL)/metrics, and /metrics on the synchronizer and every worker (Deploy/prometheus/)")
            lines.append("  logs          \(logs)   (sampled inference logs, for models with logging:, in inference-logs/)")
            lines.append("Press Ctrl-C to stop.")
            return lines.joined(separator: "\n")
        }
    }

    static func wait(for desired: DesiredState, workers: Int, router: String, synchronizer: String, timeout: Double) async -> Result<Summary, NotReady> {
        let client = ControlClient()
        defer { Task { await client.shutdown() } }
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var lastProblem = "the synchronizer has not answered yet"
        var lastReport: SynchronizerStateReport?
        while ContinuousClock.now < deadline && !Task.isCancelled {
            do {
                let report = try await client.getJSON(SynchronizerStateReport.self, synchronizer, "/v1/state")
                lastReport = report
                let planned = Set(report.versions.map(\.model))
                let missing = desired.models.map(\.name.rawValue).filter { !planned.contains($0) }
                let notReady = report.versions.filter { $0.readyReplicas < min($0.desiredReplicas, workers) }
                if let p = report.poisoned?.first {
                    lastProblem = "\(p.model) v\(p.version) is poisoned: \(p.reason)"
                } else if report.configFileRefused, let error = report.lastConfigError {
                    lastProblem = "the desired state was refused: \(error)"
                } else if !missing.isEmpty {
                    lastProblem = "no version planned yet for \(missing.joined(separator: ", ")) (is the repository populated?)"
                } else if let v = notReady.first {
                    lastProblem = "\(v.model) v\(v.version) has \(v.readyReplicas) of \(v.desiredReplicas) replicas ready \(v.problem.map { "(\($0))" } ?? "") \(v.replicas.compactMap(\.error).joined(separator: "; "))"
                } else {
                    var routable = true
                    // What clients call: the desired models (a sharded model's PS parts are reached by its entries only).
                    let called = Set(desired.models.map(\.name.rawValue))
                    for model in planned.sorted() where called.contains(model) {
                        let response = try await client.get(router, "/v2/models/\(model)/ready")
                        if response.status.code != 200 {
                            routable = false
                            lastProblem = "the router cannot route \(model) yet"
                            break
                        }
                    }
                    if routable { return .success(Summary(versions: report.versions)) }
                }
            } catch {
                lastProblem = "\(error)"
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return .failure(NotReady(message: lastProblem, report: lastReport))
    }
}
