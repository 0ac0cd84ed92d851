import HedgerowCore
import Testing

@Suite struct CanaryTallyTests {
    func tally(compared: Int, errors: Int = 0, rows: Int = 0, disagree: Int = 0, elements: Int = 0, out: Int = 0) -> CanaryTally {
        var t = CanaryTally()
        t.compared = compared
        t.candidateErrors = errors
        t.rows = rows
        t.top1Disagreements = disagree
        t.elements = elements
        t.outOfTolerance = out
        return t
    }

    @Test func noVerdictBeforeMinSamplesThenEachThresholdIsNamed() {
        let thresholds = CanaryPolicy.AbortThresholds(minSamples: 200, maxTop1DisagreePercent: 1, maxOutOfTolerancePercent: 5, maxErrorPercent: 1)
        // Every row disagrees, but only 199 samples: no verdict yet.
        #expect(tally(compared: 199, rows: 199, disagree: 199).verdict(thresholds) == nil)
        let top1 = tally(compared: 200, rows: 200, disagree: 3, elements: 2000).verdict(thresholds)
        #expect(top1?.hasPrefix("top-1 class disagreed on 1.50% of 200 rows") == true, "\(top1 ?? "nil")")
        let errors = tally(compared: 196, errors: 4).verdict(thresholds)
        #expect(errors?.contains("2.00% of 200 mirrored requests failed") == true, "\(errors ?? "nil")")
        let tolerance = tally(compared: 200, rows: 200, elements: 2000, out: 101).verdict(thresholds)
        #expect(tolerance?.contains("out of tolerance") == true, "\(tolerance ?? "nil")")
        // At the limit is still healthy (thresholds are "more than").
        #expect(tally(compared: 200, errors: 0, rows: 200, disagree: 2, elements: 2000, out: 100).verdict(thresholds) == nil)
        // Unanswered mirrors are no samples and no errors.
        var busy = tally(compared: 10)
        busy.timedOut = 1000
        #expect(busy.samples == 10 && busy.verdict(thresholds) == nil)
    }

    @Test func addingReportsSumsCountsAndKeepsTheLargestDifferenceWithoutTrapping() {
        var a = tally(compared: 5, rows: 5, disagree: 1)
        a.maxAbsDifference = 0.5
        var b = tally(compared: 7, errors: 1)
        b.maxAbsDifference = 0.25
        b.mirrored = .max
        a.mirrored = 3
        a.add(b)
        #expect(a.compared == 12 && a.candidateErrors == 1 && a.rows == 5 && a.maxAbsDifference == 0.5)
        #expect(a.mirrored == .max)
        var hostile = CanaryTally()
        hostile.compared = -50
        hostile.maxAbsDifference = .nan
        a.add(hostile)
        #expect(a.compared == 12 && a.maxAbsDifference == 0.5)
    }
}
