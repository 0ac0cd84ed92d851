import HedgerowCore
@testable import HedgerowRouter
import Testing

@Suite struct CanaryScoreboardTests {
    let agree = PredictionComparison.Outcome.compared([.init(name: "p", elements: 10, maxAbsDifference: 1e-7, relativeL2: 0, outOfTolerance: 0, rows: 1, top1Agreements: 1)])
    let swapped = PredictionComparison.Outcome.compared([.init(name: "p", elements: 10, maxAbsDifference: 0.9, relativeL2: 1, outOfTolerance: 2, rows: 1, top1Agreements: 0)])

    @Test func thisRoutersTotalsStopTheCanaryOnceAThresholdIsCrossedUntilTheBlockIsEdited() throws {
        let board = CanaryScoreboard(routerId: "r1")
        let canary = try CanaryPolicy(version: 2, splitPercent: 10, mirrorPercent: 100, abort: .init(minSamples: 20, maxTop1DisagreePercent: 10))
        var reasons: [String] = []
        for i in 0..<40 {
            if let reason = board.record(i % 4 == 0 ? swapped : agree, model: "digits", canary: canary) { reasons.append(reason) }
        }
        #expect(reasons.count == 1, "the abort is reported once: \(reasons)")
        #expect(reasons.first?.contains("top-1 class disagreed on 25.0% of 20 rows") == true, "\(reasons)")
        let stopped = board.effective(canary, model: "digits")
        #expect(stopped.aborted != nil && !stopped.takes(requestId: "x") && !stopped.mirrors(requestId: "x"))
        let entry = try #require(board.snapshot().entries.first)
        #expect(entry.tally.compared == 40 && entry.tally.top1Disagreements == 10 && entry.aborted != nil && entry.identity == canary.identity)
        // An edited block starts again from zero, and runs.
        var edited = canary
        edited.mirrorPercent = 50
        #expect(board.effective(edited, model: "digits").aborted == nil)
        _ = board.record(agree, model: "digits", canary: edited)
        #expect(board.snapshot().entries.first?.tally.compared == 1)
    }

    @Test func unansweredAndShedMirrorsAreCountedButAreNoSamples() throws {
        let board = CanaryScoreboard(routerId: "r1")
        let canary = try CanaryPolicy(version: 2, splitPercent: 0, mirrorPercent: 100, abort: .init(minSamples: 1, maxErrorPercent: 0))
        board.mirror(sent: true, model: "m", canary: canary)
        board.mirror(sent: false, model: "m", canary: canary)
        for _ in 0..<5 { board.unanswered(model: "m", canary: canary) }
        let before = board.snapshot()
        #expect(before.entries.first?.tally == {
            var t = CanaryTally()
            t.mirrored = 1
            t.shed = 1
            t.timedOut = 5
            return t
        }())
        #expect(board.effective(canary, model: "m").aborted == nil)
        #expect(board.record(.candidateFailed(status: 500), model: "m", canary: canary) != nil)
        #expect(board.snapshot().changes > before.changes)
    }

    @Test func outcomesAreLabelledByTheirWorstFinding() {
        #expect(agree.result == "agree")
        #expect(swapped.result == "top1_disagree")
        let drift = PredictionComparison.Outcome.compared([.init(name: "p", elements: 10, maxAbsDifference: 0.01, relativeL2: 0, outOfTolerance: 3, rows: 1, top1Agreements: 1)])
        #expect(drift.result == "out_of_tolerance" && drift.maxAbsDifference == 0.01)
        #expect(PredictionComparison.Outcome.candidateFailed(status: 400).result == "error")
        #expect(PredictionComparison.Outcome.incomparable("x").result == "incomparable")
    }
}
