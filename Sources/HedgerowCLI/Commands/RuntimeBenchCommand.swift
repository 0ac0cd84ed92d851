import ArgumentParser
import Foundation
import HedgerowRuntime

/// `hedgerow bench-runtime`: times the runtime on one model and prints JSON, for Benchmarks/runtime/run.py, which
/// times onnxruntime on the same inputs in the same run and prints the ratios.
struct RuntimeBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-runtime",
        abstract: "Time graph runs of one model on given inputs; print timings and outputs as JSON."
    )

    @Option(help: "The model file.") var model: String
    @Option(help: "JSON: {\"<case>\": {\"<input>\": {\"shape\": [...], \"type\": \"float32|int64|int32\", \"data\": [...]}}}.") var inputs: String
    @Option(help: "Seconds of timed runs per case (after warm-up).") var seconds = 2.0
    @Option(help: "Most timed runs per case.") var maxRuns = 20_000
    @Flag(help: "Run the graph as written, without the load-time passes (to measure what they gain).") var noOptimize = false
    @Option(help: "OpenBLAS threads per GEMM (default: as OPENBLAS_NUM_THREADS sets it).") var blasThreads: Int?

    func run() throws {
        if let blasThreads { BLAS.threads = blasThreads }
        let graph = try ModelLoader.load(contentsOf: model, optimize: !noOptimize)
        let spec = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: inputs))) as! [String: [String: [String: Any]]]
        var report: [String: Any] = [:]
        for (name, feedsSpec) in spec {
            var feeds: [String: Tensor] = [:]
            for (input, tensor) in feedsSpec {
                let shape = tensor["shape"] as! [Int]
                let data = tensor["data"] as! [NSNumber]
                switch tensor["type"] as? String {
                case "int64": feeds[input] = Tensor(shape: shape, int64s: data.map(\.int64Value))
                case "int32": feeds[input] = Tensor(shape: shape, int32s: data.map(\.int32Value))
                default: feeds[input] = Tensor(shape: shape, floats: data.map(\.floatValue))
                }
            }
            var outputs = try graph.run(feeds)
            for _ in 0..<10 { outputs = try graph.run(feeds) }
            var runs: [Duration] = []
            let clock = ContinuousClock()
            let end = clock.now + .milliseconds(Int(seconds * 1000))
            while clock.now < end && runs.count < maxRuns {
                let started = clock.now
                _ = try graph.run(feeds)
                runs.append(clock.now - started)
            }
            runs.sort()
            let count = runs.count
            var timing: [String: Any] = ["runs": count]
            timing["medianMs"] = runs[count / 2] / .milliseconds(1)
            timing["p99Ms"] = runs[min(count - 1, count * 99 / 100)] / .milliseconds(1)
            timing["meanMs"] = runs.reduce(.zero, +) / count / .milliseconds(1)
            timing["pooledMiB"] = Double(graph.pooledBytes) / 1_048_576
            timing["optimizations"] = graph.optimizations
            var values: [String: [Double]] = [:]
            for (output, tensor) in outputs {
                // Classifiers answer int64 labels beside their float scores.
                values[output] = tensor.elementType == .int64 ? try tensor.int64s(output).map(Double.init) : try tensor.floats(output).map(Double.init)
            }
            timing["outputs"] = values
            report[name] = timing
        }
        print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self))
    }
}
