import ArgumentParser
@preconcurrency import Foundation
import HedgerowBench

struct FleetBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-fleet",
        abstract: "Drive one real synchronizer with thousands of simulated workers and time its control loop.",
        discussion: """
            For each fleet size: workers register by heartbeat (every second), every model is placed and routed, then the \
            synchronizer's CPU and round period are measured in steady state, a YAML edit is timed until its routes are \
            published, and a worker that goes silent is timed until it is noticed and its replicas replaced. Use a release build.
            """
    )

    @Option(help: "Fleet sizes to run, comma-separated.") var workers = "1000,5000,10000"
    @Option(help: "Models per worker (each with --replicas replicas).") var modelsPerWorker = 1
    @Option(help: "Replicas per model.") var replicas = 2
    @Option(help: "Seconds a simulated load takes before the version is AVAILABLE.") var loadSeconds = 0.5
    @Option(help: "Milliseconds each simulated admin call takes to answer (network and work).") var adminDelayMs = 2
    @Option(help: "Seconds of steady state to measure CPU and rounds over.") var steadySeconds = 10.0

    @Option(help: .hidden) var simulate: Int?
    @Option(help: .hidden) var first = 0
    @Option(help: .hidden) var synchronizer: String?

    var sizes: [Int] { workers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        if simulate != nil { return }
        guard !sizes.isEmpty, sizes.count == workers.split(separator: ",").count, sizes.allSatisfy({ (1...16384).contains($0) }) else {
            throw ValidationError("--workers takes sizes from 1 to 16384, comma-separated")
        }
        guard (1...16).contains(modelsPerWorker), (1...8).contains(replicas), loadSeconds >= 0, loadSeconds <= 60,
              (0...1000).contains(adminDelayMs), steadySeconds >= 1, steadySeconds <= 600 else {
            throw ValidationError("--models-per-worker 1-16, --replicas 1-8, --load-seconds 0-60, --admin-delay-ms 0-1000, --steady-seconds 1-600")
        }
    }

    func run() async throws {
        setvbuf(stdout, nil, _IOLBF, 0)
        if let simulate, let synchronizer {
            // One process of the simulated fleet, started by the benchmark itself.
            try await FleetSimulator.run(count: simulate, first: first, synchronizer: synchronizer, loadSeconds: loadSeconds, adminDelayMs: adminDelayMs)
            return
        }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        print("fleet: one synchronizer, simulated workers heartbeating every 1 s, \(modelsPerWorker) model(s) per worker × \(replicas) replicas,")
        print("       loads take \(loadSeconds) s, admin calls \(adminDelayMs) ms; times are until this process received the routes")
        for size in sizes {
            var bench = FleetBenchmark(executable: executable, workers: size)
            bench.modelsPerWorker = modelsPerWorker
            bench.replicas = replicas
            bench.loadSeconds = loadSeconds
            bench.adminDelayMs = adminDelayMs
            bench.steadySeconds = steadySeconds
            let r = try await bench.run { line in
                FileHandle.standardError.write(Data("  [\(size) workers] \(line)\n".utf8))
            }
            func s(_ value: Double?) -> String { value.map { String(format: "%.2f s", $0) } ?? "not reached" }
            print("\(r.workers) workers in \(r.simulatorProcesses) simulator process(es), \(r.models) models (workers started in \(s(r.startSeconds))):")
            print("  every model routed, from start:       \(s(r.convergeSeconds)) (\(r.convergeRounds) rounds, mean \(s(r.convergeRoundMeanSeconds)));"
                  + " then at most \(r.mostReplicasOnAWorker) replicas on a worker, \(r.workersWithoutReplicas) workers with none")
            print(String(format: "  synchronizer CPU, steady:             %.3f cores (%.3f per 1,000 workers), %.0f MB resident",
                         r.cpuCores, r.cpuCores * 1000 / Double(r.workers), r.residentMB))
            print("  reconcile rounds, steady:             \(r.rounds) rounds, mean \(s(r.roundMeanSeconds)), all within \(s(r.roundMaxBucketSeconds)) (then a 0.5 s pause)")
            print("  YAML edit → new model routed:         first replica \(s(r.editRoutedSeconds)), every replica \(s(r.editWholeSeconds))")
            print("  YAML edit → removed model unrouted:   \(s(r.removeSeconds))")
            print("  silent worker → out of the routes:    \(s(r.deadNoticedSeconds)); its models fully routed again: \(s(r.deadReplacedSeconds))")
            print("  heartbeats: \(r.heartbeatsOK) answered 200, \(r.heartbeatsFailed) not; logs in \(r.logDirectory)")
        }
    }
}
