import ArgumentParser
import HedgerowCore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print desired vs ready replicas per model version, as the synchronizer sees them."
    )

    @Option(help: "Synchronizer address, HOST:PORT or http://HOST:PORT.") var synchronizer = "127.0.0.1:8600"

    func run() async throws {
        let client = ControlClient()
        let report: SynchronizerStateReport
        do {
            report = try await client.getJSON(SynchronizerStateReport.self, try normalizeAddress(synchronizer), "/v1/state")
        } catch {
            await client.shutdown()
            throw ValidationError("cannot reach the synchronizer at \(synchronizer): \(error)")
        }
        await client.shutdown()
        print(StatusTable.render(report))
    }
}

/// The table `hedgerow status` prints.
enum StatusTable {
    static func megabytes(_ bytes: Int) -> String {
        String(format: "%.1f MiB", Double(bytes) / 1_048_576)
    }

    static func render(_ report: SynchronizerStateReport) -> String {
        var lines: [String] = []
        lines.append("config     \(report.configFile)  hash \(report.configHash ?? "-")  applied \(report.configAppliedAt ?? "never")")
        if let error = report.lastConfigError {
            let indented = error.replacingOccurrences(of: "\n", with: "\n           ")
            let when = report.lastConfigErrorAt ?? "?"
            lines.append(report.configFileRefused
                ? "REFUSED    the file on disk (\(when)); the state applied above stays in force:\n           \(indented)"
                : "last refused edit (\(when)), since fixed:\n           \(indented)")
        }
        lines.append("routes     generation \(report.generation)")
        lines.append("workers    " + (report.workers.isEmpty ? "none" : report.workers.map { "\($0.name)@\($0.address) zone=\($0.zone) \($0.alive ? "alive" : "DEAD")" }.joined(separator: ", ")))
        lines.append("")
        // Sharded models add what each part is and what a replica of it holds.
        let parts = report.versions.contains { $0.part != nil }
        let header = ["MODEL", "VERSION"] + (parts ? ["PART", "MEMORY"] : []) + ["DESIRED", "READY", "REPLICAS", "PROBLEM"]
        var rows = [header]
        for v in report.versions {
            let replicas = v.replicas.map { "\($0.worker):\($0.state)\($0.error.map { "(\($0))" } ?? "")" }.joined(separator: " ")
            let part = parts ? [v.part ?? "-", v.memoryBytes.map(megabytes) ?? "-"] : []
            rows.append([v.model, String(v.version)] + part + [String(v.desiredReplicas), String(v.readyReplicas), replicas.isEmpty ? "-" : replicas, v.problem ?? ""])
        }
        let widths = (0..<header.count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        for row in rows {
            lines.append(row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        if report.versions.isEmpty { lines.append("(no model versions planned yet)") }
        for canary in report.canaries ?? [] {
            lines.append("")
            lines.append(line(canary))
        }
        for p in report.poisoned ?? [] {
            lines.append("")
            lines.append("POISONED   \(p.model) v\(p.version) since \(p.since): \(p.reason); placed on no worker until its files change or `hedgerow clear-poison \(p.model) \(p.version)`")
            if let crash = p.crashReport {
                lines.append("           " + crash.split(separator: "\n").suffix(6).joined(separator: "\n           "))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `digits: canary v2 — mirror 20%, 1,204 compared, top-1 agree 99.9%, max|Δ| 3e-07 — healthy`.
    static func line(_ canary: CanaryStatus) -> String {
        let t = canary.tally
        var parts = ["mirror \(percent(canary.mirrorPercent))%"]
        if canary.splitPercent > 0 { parts.append("split \(percent(canary.splitPercent))%") }
        parts.append("\(grouped(t.compared)) compared")
        if t.rows > 0 { parts.append("top-1 agree \(percent(100 - t.top1DisagreePercent))%") }
        if t.compared > 0 { parts.append("max|Δ| \(String(format: "%.3g", t.maxAbsDifference))") }
        if t.elements > 0 && t.outOfTolerance > 0 { parts.append("\(percent(t.outOfTolerancePercent))% out of tolerance") }
        if t.candidateErrors + t.incomparable > 0 { parts.append("\(grouped(t.candidateErrors + t.incomparable)) failed") }
        if t.timedOut + t.shed > 0 { parts.append("\(grouped(t.timedOut + t.shed)) unanswered or shed") }
        let verdict: String
        if canary.state == "aborted" {
            verdict = "ABORTED: \(canary.reason ?? "?"); nothing sent to v\(canary.candidate) until the canary block is edited"
        } else if canary.mirrorPercent == 0 {
            verdict = "split only, not judged"
        } else if canary.routers == 0 {
            verdict = "no router has reported yet"
        } else {
            verdict = "healthy"
        }
        return "\(canary.model): canary v\(canary.candidate) — \(parts.joined(separator: ", ")) — \(verdict)"
    }

    private static func percent(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }

    private static func grouped(_ value: Int) -> String {
        let digits = Array(String(value))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return out
    }
}

import Foundation
