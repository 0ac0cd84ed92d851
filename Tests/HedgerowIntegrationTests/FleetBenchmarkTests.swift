import Foundation
import Testing

/// `hedgerow bench-fleet` end to end on a small fleet: the real synchronizer, simulated workers in their own
/// process, and every step the benchmark times must be reached. This is what keeps the numbers in docs/scaling.md
/// reproducible, and it covers the synchronizer behaviour the steps rely on: registration by heartbeat, a model
/// added and removed by YAML edits (a removed model must leave the routes), a silent worker replaced.
@Suite(.serialized) struct FleetBenchmarkTests {
    @Test func everyStepIsReachedOnASmallFleet() async throws {
        let bench = try HedgerowProcess([
            "bench-fleet", "--workers", "40", "--steady-seconds", "2", "--load-seconds", "0.1", "--admin-delay-ms", "1",
        ])
        let finished = await bench.waitForOutput("heartbeats:", timeout: .seconds(240))
        await bench.stop()
        let text = bench.text
        #expect(finished, "\(text)")
        for step in ["every model routed, from start:", "YAML edit → new model routed:", "YAML edit → removed model unrouted:",
                     "silent worker → out of the routes:", "reconcile rounds, steady:"] {
            let line = text.split(separator: "\n").first { $0.contains(step) }
            #expect(line != nil && line?.contains("not reached") == false, "\(step) not reached:\n\(text)")
        }
        #expect(text.contains("40 workers in 1 simulator process(es), 40 models"), "\(text)")
        // The logs the benchmark keeps for a reader; a test leaves nothing behind.
        if let logs = text.split(separator: "\n").first(where: { $0.contains("logs in ") })?.components(separatedBy: "logs in ").last {
            try? FileManager.default.removeItem(atPath: logs.trimmingCharacters(in: .whitespaces))
        }
    }
}
