import Foundation
import NIOCore

/// The hedging benchmark: each scenario on a fresh two-worker cluster, measured with hedging off and then on
/// (the same cluster, the desired state edited in between), each through a router balancing by requests in
/// flight only and through one balancing by peak-EWMA latency (the default), so that what hedging and what
/// balancing each contribute shows; and the router against a worker directly.
///
/// Scenarios: (a) healthy; (b) w2 delays 5% of its requests by 50 ms; (c) w2 frozen 50 ms every 500 ms.
public struct HedgingBenchmark {
    public struct Options: Sendable {
        public var executable: String
        public var repository: String
        public var body: ByteBuffer
        public var rate: Double
        public var seconds: Int
        public var warmupSeconds: Int
        public var basePort: Int
        public var budgetPercent: Double

        public init(executable: String, repository: String, body: ByteBuffer, rate: Double, seconds: Int, warmupSeconds: Int, basePort: Int, budgetPercent: Double) {
            self.executable = executable
            self.repository = repository
            self.body = body
            self.rate = rate
            self.seconds = seconds
            self.warmupSeconds = warmupSeconds
            self.basePort = basePort
            self.budgetPercent = budgetPercent
        }
    }

    public struct Row: Sendable {
        public var scenario: String
        public var mode: String
        public var result: LoadGenerator.Result
        public var hedgeRate: Double?
        public var winRate: Double?

        public init(scenario: String, mode: String, result: LoadGenerator.Result, hedgeRate: Double?, winRate: Double?) {
            self.scenario = scenario
            self.mode = mode
            self.result = result
            self.hedgeRate = hedgeRate
            self.winRate = winRate
        }
    }

    let options: Options
    public init(options: Options) { self.options = options }

    public func run(scenarios: [String], report: (Row) -> Void) async throws {
        for (index, scenario) in scenarios.enumerated() {
            let flags: [String] = scenario == "delay" ? ["--fault-delay-percent", "5", "--fault-delay-ms", "50"] : []
            let cluster = try BenchCluster(executable: options.executable, repository: options.repository, basePort: options.basePort + index * 10, w2Flags: flags)
            do {
                try await cluster.waitUntilRouted(budgetPercent: 0)
                if scenario == "healthy" {
                    report(Row(scenario: "healthy", mode: "direct to w1", result: await measure(target: cluster.workerAddresses[0]), hedgeRate: nil, winRate: nil))
                }
                for budget in [0, options.budgetPercent] {
                    try cluster.writeConfig(budgetPercent: budget)
                    try await cluster.waitUntilRouted(budgetPercent: budget)
                    for (router, balancing) in [(cluster.leastRequestsRouterAddress, "least-requests"), (cluster.routerAddress, "peak-EWMA")] {
                        let pauses = scenario == "pause" ? cluster.pauseWorker2(every: .milliseconds(500), for: .milliseconds(50)) : nil
                        _ = await measure(target: router, seconds: options.warmupSeconds)  // fills the latency window
                        let hedgesBefore = await cluster.routerCounter(#"hedgerow_router_hedges_total{model="digits"}"#, router: router)
                        let winsBefore = await cluster.routerCounter(#"hedgerow_router_hedge_wins_total{model="digits"}"#, router: router)
                        let result = await measure(target: router)
                        pauses?.cancel()
                        let hedges = await cluster.routerCounter(#"hedgerow_router_hedges_total{model="digits"}"#, router: router) - hedgesBefore
                        let wins = await cluster.routerCounter(#"hedgerow_router_hedge_wins_total{model="digits"}"#, router: router) - winsBefore
                        let hedging = budget == 0 ? "hedging off" : "hedging on (\(Int(budget))%)"
                        report(Row(
                            scenario: scenario, mode: "router \(balancing), \(hedging)",
                            result: result, hedgeRate: Double(hedges) / Double(max(result.sent, 1)), winRate: hedges > 0 ? wins / hedges : 0
                        ))
                    }
                }
            } catch {
                await cluster.stop(keepLogs: true)
                throw error
            }
            await cluster.stop()
        }
    }

    private func measure(target: String, seconds: Int? = nil) async -> LoadGenerator.Result {
        await LoadGenerator(configuration: .init(
            target: target, path: "/v1/models/digits:predict", body: options.body, rate: options.rate, duration: .seconds(seconds ?? options.seconds)
        )).run()
    }

    public static let header = "| scenario | mode | rate req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | hedges | hedge wins |\n|---|---|---|---|---|---|---|---|---|---|---|"

    public static func markdown(_ row: Row) -> String {
        let r = row.result
        func ms(_ v: Double) -> String { String(format: "%.2f", v) }
        let hedges = row.hedgeRate.map { String(format: "%.1f%%", $0 * 100) } ?? "-"
        let wins = row.winRate.map { String(format: "%.0f%%", $0 * 100) } ?? "-"
        return "| \(row.scenario) | \(row.mode) | \(String(format: "%.0f", r.achievedRate)) | \(ms(r.percentileMillis(50))) | \(ms(r.percentileMillis(90))) | \(ms(r.percentileMillis(99))) | \(ms(r.percentileMillis(99.9))) | \(ms(r.maxMillis)) | \(r.errors) | \(hedges) | \(wins) |"
    }
}
