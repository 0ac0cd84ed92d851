import Testing
@testable import HedgerowRouter

@Suite struct PredictionComparisonTests {
    func v2(_ data: [Double], shape: [Int], name: String = "probabilities") -> [UInt8] {
        let numbers = data.map { "\($0)" }.joined(separator: ",")
        return Array(#"{"model_name":"digits","model_version":"1","outputs":[{"name":"\#(name)","datatype":"FP32","shape":\#(shape),"data":[\#(numbers)]}]}"#.utf8)
    }

    @Test func equalAnswersAgreeEverywhere() throws {
        let body = v2([0.1, 0.9, 0.8, 0.2], shape: [2, 2])
        let outcome = PredictionComparison.compare(stable: body, candidate: body, candidateStatus: 200, tolerance: .init())
        #expect(outcome == .compared([.init(name: "probabilities", elements: 4, maxAbsDifference: 0, relativeL2: 0, outOfTolerance: 0, rows: 2, top1Agreements: 2)]))
    }

    @Test func swappedClassesDisagreeOnTop1AndAreOutOfTolerance() throws {
        let stable = v2([0.1, 0.9, 0.8, 0.2], shape: [2, 2])
        let swapped = v2([0.9, 0.1, 0.8, 0.2], shape: [2, 2])
        guard case .compared(let results) = PredictionComparison.compare(stable: stable, candidate: swapped, candidateStatus: 200, tolerance: .init()) else {
            Issue.record("not compared")
            return
        }
        let r = try #require(results.first)
        #expect(r.top1Agreements == 1 && r.rows == 2 && r.outOfTolerance == 2)
        #expect(abs(r.maxAbsDifference - 0.8) < 1e-12)
        // ‖c − s‖ / ‖s‖ = sqrt(0.64 + 0.64) / sqrt(0.01 + 0.81 + 0.64 + 0.04)
        #expect(abs(r.relativeL2 - (1.28 / 1.5).squareRoot()) < 1e-12)
    }

    @Test func smallNoiseStaysWithinTolerance() throws {
        let stable = v2([0.25, 0.75], shape: [1, 2])
        let noisy = v2([0.25 + 1e-7, 0.75 - 1e-7], shape: [1, 2])
        guard case .compared(let results) = PredictionComparison.compare(stable: stable, candidate: noisy, candidateStatus: 200, tolerance: .init()) else {
            Issue.record("not compared")
            return
        }
        #expect(results[0].outOfTolerance == 0 && results[0].top1Agreements == 1 && results[0].maxAbsDifference < 2e-7)
    }

    @Test func tfServingRowsAndNamedColumnsAreRead() throws {
        let rows = Array(#"{"predictions": [[0.1, 0.9], [0.7, 0.3]]}"#.utf8)
        guard case .compared(let r) = PredictionComparison.compare(stable: rows, candidate: rows, candidateStatus: 200, tolerance: .init()) else {
            Issue.record("rows not compared")
            return
        }
        #expect(r.map(\.name) == ["predictions"] && r[0].rows == 2)
        let columns = Array(#"{"outputs": {"score": [0.5, 0.25], "logits": [[1, 2]]}}"#.utf8)
        guard case .compared(let c) = PredictionComparison.compare(stable: columns, candidate: columns, candidateStatus: 200, tolerance: .init()) else {
            Issue.record("columns not compared")
            return
        }
        #expect(c.map(\.name) == ["logits", "score"] && c[0].rows == 1 && c[1].rows == nil)
    }

    @Test func errorsAndMismatchesAreNamed() {
        let good = v2([1, 2], shape: [1, 2])
        #expect(PredictionComparison.compare(stable: good, candidate: Array(#"{"error":"x"}"#.utf8), candidateStatus: 500, tolerance: .init()) == .candidateFailed(status: 500))
        let cases: [([UInt8], String)] = [
            (v2([1, 2], shape: [2, 1]), "shapes [1, 2] and [2, 1]"),
            (v2([1, 2], shape: [1, 2], name: "logits"), "outputs differ"),
            (v2([1, 2, 3], shape: [1, 2]), "does not hold 3 values"),
            (v2([1, 2], shape: [4_000_000_000, 4_000_000_000, 4_000_000_000]), "overflows"),
            (Array("{not json".utf8), "candidate answer: not JSON"),
            (Array(String(repeating: "[", count: 100_000).utf8), "candidate answer: not JSON"),
            (Array(#"{"predictions": [[1, 2], [3]]}"#.utf8), "not a tensor of numbers"),
            (Array(#"{"nothing": 1}"#.utf8), "no outputs or predictions"),
        ]
        for (candidate, message) in cases {
            guard case .incomparable(let why) = PredictionComparison.compare(stable: good, candidate: candidate, candidateStatus: 200, tolerance: .init()) else {
                Issue.record("compared: \(message)")
                continue
            }
            #expect(why.contains(message), "\(why) lacks \(message)")
        }
    }
}
