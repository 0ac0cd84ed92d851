import Foundation
import HedgerowCore
import SwiftProtobuf

/// Runs the ONNX project's backend test cases (`<case>/model.onnx` with `test_data_set_*/input_*.pb` and
/// `output_*.pb`, as Debian's libonnx-testdata ships them) against the runtime.
///
/// A case is in scope when every operator it uses is one the runtime has a kernel for. In scope, it passes when
/// every data set's outputs match (floats within rtol 1e-3 and atol 1e-5, as the ONNX backend tests compare; NaN
/// matches NaN; integers and booleans exactly), is skipped when it needs a datatype the runtime does not compute
/// with (the reason says which), and fails otherwise.
public struct ConformanceSuite: Sendable {
    public enum Outcome: Sendable, Equatable {
        case passed
        case failed(String)
        case skipped(String)
        /// Failed, as expected: the case needs something `knownGaps` says the runtime does not do, and why.
        case knownGap(String)
    }

    /// Cases in scope that fail on purpose, with the reason. The conformance test fails when one of them starts
    /// passing, so this list never claims a gap that is gone.
    public static let knownGaps: [String: String] = {
        var gaps: [String: String] = [:]
        for name in ["node/test_training_dropout", "node/test_training_dropout_default", "node/test_training_dropout_default_mask",
                     "node/test_training_dropout_mask", "node/test_batchnorm_epsilon_training_mode", "node/test_batchnorm_example_training_mode"] {
            gaps[name] = "training mode (random dropout, batch statistics): a serving runtime runs inference only"
        }
        for name in ["node/test_identity_opt", "node/test_identity_sequence"] {
            gaps[name] = "optional and sequence values: the runtime computes with tensors only"
        }
        for name in ["node/test_averagepool_3d_default", "node/test_maxpool_3d_default", "pytorch-converted/test_AvgPool3d",
                     "pytorch-converted/test_AvgPool3d_stride", "pytorch-converted/test_AvgPool3d_stride1_pad0_gpu_input",
                     "pytorch-converted/test_Conv3d", "pytorch-converted/test_Conv3d_dilated", "pytorch-converted/test_Conv3d_dilated_strided",
                     "pytorch-converted/test_Conv3d_groups", "pytorch-converted/test_Conv3d_no_bias", "pytorch-converted/test_Conv3d_stride",
                     "pytorch-converted/test_Conv3d_stride_padding", "pytorch-converted/test_MaxPool3d", "pytorch-converted/test_MaxPool3d_stride",
                     "pytorch-converted/test_MaxPool3d_stride_padding", "node/test_convtranspose_3d"] {
            gaps[name] = "3-D convolution and pooling: the kernels run 1-D and 2-D windows"
        }
        return gaps
    }()

    public struct Result: Sendable {
        public var name: String
        public var operators: [String]
        public var outcome: Outcome
    }

    public let root: String

    /// The ONNX operators the runtime has kernels for: the default domain's, then ai.onnx.ml's (their names do not
    /// overlap).
    public static var supportedOperators: [String] { Operators.supported + MLOperators.supported }

    public init(root: String) {
        self.root = root
    }

    /// Directories holding a `model.onnx`, one or two levels down, sorted.
    public func caseDirectories() -> [String] {
        let fm = FileManager.default
        var found: [String] = []
        func scan(_ dir: String, depth: Int) {
            if fm.fileExists(atPath: "\(dir)/model.onnx") { found.append(dir); return }
            guard depth < 3, let entries = try? fm.contentsOfDirectory(atPath: dir) else { return }
            for entry in entries.sorted() where !entry.hasPrefix(".") { scan("\(dir)/\(entry)", depth: depth + 1) }
        }
        scan(root, depth: 0)
        return found
    }

    /// Runs every case in scope. Cases using an operator without a kernel are left out (not counted).
    public func run() -> [Result] {
        let supported = Set(Self.supportedOperators)
        return caseDirectories().compactMap { dir in
            let name = relativeName(dir)
            guard let data = FileManager.default.contents(atPath: "\(dir)/model.onnx"),
                  let proto = try? Onnx_ModelProto(serializedBytes: data) else {
                return Result(name: name, operators: [], outcome: .failed("model.onnx cannot be read"))
            }
            let operators = Set(proto.graph.node.map(\.opType)).sorted()
            guard !operators.isEmpty, Set(operators).isSubset(of: supported) else { return nil }
            var outcome = runCase(dir, data: data)
            if case .failed = outcome, let reason = Self.knownGaps[name] { outcome = .knownGap(reason) }
            return Result(name: name, operators: operators, outcome: outcome)
        }
    }

    private func relativeName(_ dir: String) -> String {
        dir.hasPrefix(root + "/") ? String(dir.dropFirst(root.count + 1)) : dir
    }

    private func runCase(_ dir: String, data: Data) -> Outcome {
        let graph: ModelGraph
        do { graph = try ModelLoader.load(data, source: "model.onnx") } catch {
            return Self.isDatatypeGap(error.message) ? .skipped(error.message) : .failed("load: \(error.message)")
        }
        let sets = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("test_data_set_") }.sorted()
        guard !sets.isEmpty else { return .failed("no test_data_set_* directory") }
        for set in sets {
            let path = "\(dir)/\(set)"
            do {
                let inputs = try tensors(in: path, prefix: "input_")
                let expected = try tensors(in: path, prefix: "output_")
                var feeds: [String: Tensor] = [:]
                for (i, tensor) in inputs.enumerated() {
                    guard i < graph.inputs.count else { return .failed("\(set): more inputs than the graph declares") }
                    feeds[graph.inputs[i].name] = tensor
                }
                let outputs = try graph.run(feeds)
                for (i, want) in expected.enumerated() {
                    guard i < graph.outputs.count, let got = outputs[graph.outputs[i].name] else { return .failed("\(set): output #\(i) missing") }
                    if let difference = Self.difference(got, want) { return .failed("\(set): output '\(graph.outputs[i].name)': \(difference)") }
                }
            } catch {
                return Self.isDatatypeGap(error.message) ? .skipped(error.message) : .failed("\(set): \(error.message)")
            }
        }
        return .passed
    }

    private static func isDatatypeGap(_ message: String) -> Bool {
        message.contains("which Hedgerow does not support yet") || message.contains("is not supported yet")
    }

    private func tensors(in dir: String, prefix: String) throws(HedgerowError) -> [Tensor] {
        var result: [Tensor] = []
        for i in 0... {
            let file = "\(dir)/\(prefix)\(i).pb"
            guard let data = FileManager.default.contents(atPath: file) else { break }
            let proto: Onnx_TensorProto
            do { proto = try Onnx_TensorProto(serializedBytes: data) } catch {
                throw HedgerowError(.loadFailed, "\(prefix)\(i).pb is not a TensorProto")
            }
            result.append(try TensorDecoding.decode(proto, what: "\(prefix)\(i).pb"))
        }
        return result
    }

    /// Why two tensors differ, or nil when they agree within the tolerance.
    static func difference(_ got: Tensor, _ want: Tensor) -> String? {
        guard got.shape == want.shape else { return "shape \(got.shape), expected \(want.shape)" }
        guard got.elementType == want.elementType else { return "datatype \(got.elementType), expected \(want.elementType)" }
        switch (got.storage, want.storage) {
        case (.float32(let a), .float32(let b)):
            for i in a.indices {
                if a[i].isNaN && b[i].isNaN { continue }
                if a[i] == b[i] { continue }
                if Swift.abs(a[i] - b[i]) > 1e-5 + 1e-3 * Swift.abs(b[i]) { return "element \(i) is \(a[i]), expected \(b[i])" }
            }
            return nil
        default:
            return got == want ? nil : "values differ (\(Array(String(describing: got.storage).prefix(120))))"
        }
    }

    /// The table `hedgerow conformance` prints: per operator, the cases using it that passed, failed and were
    /// skipped; then the failures and skips with their reasons; then `N passed, M failed, K skipped`.
    public static func report(_ results: [Result]) -> String {
        var lines: [String] = []
        var perOperator: [String: [Int]] = [:]
        for r in results {
            for op in r.operators { perOperator[op, default: [0, 0, 0, 0]][r.outcome.column] += 1 }
        }
        lines.append("OPERATOR              PASSED  FAILED  KNOWN GAP  SKIPPED")
        for op in supportedOperators {
            let c = perOperator[op] ?? [0, 0, 0, 0]
            lines.append(op.padding(toLength: 22, withPad: " ", startingAt: 0) + pad(c[0], 6) + pad(c[1], 8) + pad(c[2], 11) + pad(c[3], 9))
        }
        for r in results {
            switch r.outcome {
            case .failed(let why): lines.append("FAILED    \(r.name): \(why)")
            case .knownGap(let why): lines.append("KNOWN GAP \(r.name): \(why)")
            case .skipped(let why): lines.append("SKIPPED   \(r.name): \(why)")
            case .passed: break
            }
        }
        var totals = [0, 0, 0, 0]
        for r in results { totals[r.outcome.column] += 1 }
        lines.append("\(totals[0]) passed, \(totals[1]) failed, \(totals[2]) known gaps, \(totals[3]) skipped (datatypes) — of \(results.count) cases whose operators are all supported")
        return lines.joined(separator: "\n")
    }

    private static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return String(repeating: " ", count: max(0, width - s.count)) + s
    }
}

extension ConformanceSuite.Outcome {
    /// Column of the report: passed, failed, known gap, skipped.
    var column: Int {
        switch self {
        case .passed: 0
        case .failed: 1
        case .knownGap: 2
        case .skipped: 3
        }
    }
}
