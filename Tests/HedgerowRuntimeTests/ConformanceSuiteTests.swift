import Foundation
@testable import HedgerowRuntime
import Testing

/// The ONNX project's own backend tests (Debian's libonnx-testdata, installed by `make deps`): every case whose
/// operators are all supported must pass, except the known gaps, which must still fail (the list stays honest).
@Suite struct ConformanceSuiteTests {
    static let testdata = "/usr/share/libonnx-testdata/data"

    @Test func everySupportedOperatorPassesItsONNXNodeTests() throws {
        try #require(FileManager.default.fileExists(atPath: Self.testdata), "no ONNX test data at \(Self.testdata): run `make deps` (installs libonnx-testdata)")
        let results = ConformanceSuite(root: Self.testdata).run()
        let report = ConformanceSuite.report(results)
        print(report)
        let failed = results.filter { if case .failed = $0.outcome { true } else { false } }
        #expect(failed.isEmpty, "\(failed.map { "\($0.name): \($0.outcome)" }.joined(separator: "\n"))")
        let gaps = Set(results.filter { if case .knownGap = $0.outcome { true } else { false } }.map(\.name))
        let stale = Set(ConformanceSuite.knownGaps.keys).subtracting(gaps)
        #expect(stale.isEmpty, "listed as known gaps but no longer failing (remove them): \(stale.sorted())")
        // Regressions that turn passes into skips or removals show up here.
        #expect(results.count >= 540, "only \(results.count) cases in scope")
        #expect(results.filter { $0.outcome == .passed }.count >= 492, "\(report.split(separator: "\n").last ?? "")")
        // The operators real exported models need (issue 16): each has cases, and they pass.
        for op in ["HardSigmoid", "HardSwish", "ConvTranspose", "Resize", "GlobalMaxPool", "Max", "Min", "Sum", "Mean", "Reciprocal", "Pad",
                   "Tile", "TopK", "Range", "InstanceNormalization", "LSTM", "GRU", "Einsum"] {
            #expect(results.contains { $0.operators.contains(op) && $0.outcome == .passed }, "no passing case uses \(op)")
        }
    }

    @Test func tensorsAreComparedWithTheBackendTestTolerance() {
        let want = Tensor(shape: [3], floats: [1, 100, .nan])
        #expect(ConformanceSuite.difference(Tensor(shape: [3], floats: [1.000_005, 100.09, .nan]), want) == nil)
        #expect(ConformanceSuite.difference(Tensor(shape: [3], floats: [1, 100.2, .nan]), want) != nil)
        #expect(ConformanceSuite.difference(Tensor(shape: [1, 3], floats: [1, 100, .nan]), want) == "shape [1, 3], expected [3]")
        #expect(ConformanceSuite.difference(Tensor(shape: [2], int64s: [1, 2]), Tensor(shape: [2], int64s: [1, 3])) != nil)
    }
}
