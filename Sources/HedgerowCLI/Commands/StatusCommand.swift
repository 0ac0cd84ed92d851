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
        let header = ["MODEL", "VERSION", "DESIRED", "READY", "REPLICAS", "PROBLEM"]
        var rows = [header]
        for v in report.versions {
            let replicas = v.replicas.map { "\($0.worker):\($0.state)\($0.error.map { "(\($0))" } ?? "")" }.joined(separator: " ")
            rows.append([v.model, String(v.version), String(v.desiredReplicas), String(v.readyReplicas), replicas.isEmpty ? "-" : replicas, v.problem ?? ""])
        }
        let widths = (0..<header.count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        for row in rows {
            lines.append(row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        if report.versions.isEmpty { lines.append("(no model versions planned yet)") }
        for p in report.poisoned ?? [] {
            lines.append("")
            lines.append("POISONED   \(p.model) v\(p.version) since \(p.since): \(p.reason); placed on no worker until its files change or `hedgerow clear-poison \(p.model) \(p.version)`")
            if let crash = p.crashReport {
                lines.append("           " + crash.split(separator: "\n").suffix(6).joined(separator: "\n           "))
            }
        }
        return lines.joined(separator: "\n")
    }
}

import Foundation
