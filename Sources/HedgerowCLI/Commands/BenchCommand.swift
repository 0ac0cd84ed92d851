import ArgumentParser
@preconcurrency import Foundation
import HedgerowBench
import NIOCore
import NIOHTTP1

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Open-loop HTTP/2 load: one target, or the hedging scenarios on a fresh local cluster.",
        discussion: """
            Requests leave at fixed intended times and latency is measured from those times, so stalls are not \
            hidden by a slowed-down sender. With --target, loads that address and prints one line. Without it, \
            starts a synchronizer, two workers and two routers (peak-EWMA and least-requests balancing) for each scenario (healthy, delay: w2 delays 5% of \
            requests by 50 ms, pause: w2 frozen 50 ms every 500 ms), measures with hedging off and on, and prints \
            a Markdown table. Use a release build.
            """
    )

    @Option(help: "HOST:PORT to load; without it, run the hedging scenarios.") var target: String?
    @Option(help: "Request path.") var path = "/v1/models/digits:predict"
    @Option(help: "JSON body file (default: the first row of Models/digits/testset.json).") var bodyFile: String?
    @Option(name: .customLong("header"), help: "A request header, 'name: value' (repeatable; with --target). 'content-type: application/grpc' with 'te: trailers' makes each request a gRPC call whose body file holds the framed message.")
    var headers: [String] = []
    @Option(help: "Requests per second.") var rate = 400.0
    @Option(help: "Seconds of measurement per run.") var seconds = 10
    @Option(help: "Seconds of unrecorded load before each scenario run (fills the router's latency window).") var warmup = 3
    @Option(help: "Scenarios to run: healthy, delay, pause (comma-separated).") var scenarios = "healthy,delay,pause"
    @Option(help: "Hedge budget for the 'on' runs, percent.") var budgetPercent = 5.0
    @Option(help: "First port of the scenario clusters (each uses 5 ports, 10 apart).") var basePort = 19400
    @Option(help: "Model repository.") var repository = "Models"

    func run() async throws {
        setvbuf(stdout, nil, _IOLBF, 0)
        let body = try loadBody()
        if let target {
            var fields: HTTPHeaders = [:]
            for header in headers {
                let parts = header.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { throw ValidationError("--header '\(header)' is not 'name: value'") }
                fields.add(name: parts[0].trimmingCharacters(in: .whitespaces), value: parts[1].trimmingCharacters(in: .whitespaces))
            }
            if fields.first(name: "content-type") == nil { fields.add(name: "content-type", value: "application/json") }
            let result = await LoadGenerator(configuration: .init(
                target: try normalizeAddress(target), path: path, headers: fields, body: body, rate: rate, duration: .seconds(seconds)
            )).run()
            print(HedgingBenchmark.header)
            print(HedgingBenchmark.markdown(.init(scenario: "-", mode: target, result: result, hedgeRate: nil, winRate: nil)))
            if !result.errorKinds.isEmpty { print("errors: \(result.errorKinds)") }
            return
        }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let benchmark = HedgingBenchmark(options: .init(
            executable: executable, repository: URL(fileURLWithPath: repository).standardizedFileURL.path, body: body,
            rate: rate, seconds: seconds, warmupSeconds: warmup, basePort: basePort, budgetPercent: budgetPercent
        ))
        print("hedgerow bench: \(Int(rate)) req/s open loop, \(seconds) s per run after \(warmup) s warm-up")
        print(HedgingBenchmark.header)
        try await benchmark.run(scenarios: scenarios.split(separator: ",").map(String.init)) { row in
            print(HedgingBenchmark.markdown(row))
            if !row.result.errorKinds.isEmpty { print("  errors: \(row.result.errorKinds)") }
        }
    }

    private func loadBody() throws -> ByteBuffer {
        if let bodyFile {
            guard let data = FileManager.default.contents(atPath: bodyFile) else { throw ValidationError("cannot read \(bodyFile)") }
            return ByteBuffer(bytes: data)
        }
        let testset = URL(fileURLWithPath: repository).appendingPathComponent("digits/testset.json")
        guard let data = try? Data(contentsOf: testset),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let first = (object["inputs"] as? [[Double]])?.first else {
            throw ValidationError("no --body-file and cannot read \(testset.path)")
        }
        return ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["instances": [first]]))
    }
}
