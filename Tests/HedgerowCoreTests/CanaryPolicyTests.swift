import Foundation
import HedgerowCore
import Testing

@Suite struct CanaryPolicyTests {
    @Test func theShareFollowsTheRequestIdAndIsIndependentOfOtherSamplings() throws {
        let canary = try CanaryPolicy(version: 2, splitPercent: 30)
        let ids = (0..<10_000).map { "id-\($0)" }
        let taken = ids.filter { canary.takes(requestId: $0) }
        // Binomial(10,000, 0.3): mean 3,000, standard deviation 45.8; three of them either side.
        #expect((2_862...3_138).contains(taken.count), "\(taken.count)")
        #expect(taken == ids.filter { canary.takes(requestId: $0) })
        // The 1 % an inference log would sample (salted apart) falls into the canary's 30 % about 30 % of the time,
        // not always (which an unsalted hash would do: the lowest buckets of one are the lowest of the other).
        let logged = ids.filter { RequestIdBucket.of($0, salt: "log") < RequestIdBucket.count / 100 }
        let both = logged.filter { canary.takes(requestId: $0) }.count
        #expect(logged.count > 50 && Double(both) / Double(logged.count) < 0.6, "\(both) of \(logged.count)")
        #expect(ids.allSatisfy { !(try! CanaryPolicy(version: 2, splitPercent: 0)).takes(requestId: $0) })
        #expect(ids.allSatisfy { (try! CanaryPolicy(version: 2, splitPercent: 100)).takes(requestId: $0) })
    }

    @Test func outOfRangeSplitsAreRefused() {
        #expect(throws: HedgerowError.self) { try CanaryPolicy(version: 0, splitPercent: 10) }
        #expect(throws: HedgerowError.self) { try CanaryPolicy(version: 2, splitPercent: -1) }
        #expect(throws: HedgerowError.self) { try CanaryPolicy(version: 2, splitPercent: .infinity) }
    }

    @Test func mirrorSharesAreIndependentOfTheSplitAndNothingGoesOnceAborted() throws {
        var canary = try CanaryPolicy(version: 2, splitPercent: 30, mirrorPercent: 20)
        let ids = (0..<10_000).map { "id-\($0)" }
        let mirrored = ids.filter { canary.mirrors(requestId: $0) }
        #expect((1_880...2_120).contains(mirrored.count), "\(mirrored.count)")
        let both = mirrored.filter { canary.takes(requestId: $0) }.count
        #expect(Double(both) / Double(mirrored.count) < 0.4, "\(both)")
        let identity = canary.identity
        canary.aborted = "top-1 disagreed"
        #expect(canary.identity == identity, "the verdict is not part of the block")
        #expect(!ids.contains { canary.takes(requestId: $0) || canary.mirrors(requestId: $0) })
        canary.aborted = nil
        canary.mirrorPercent = 25
        #expect(canary.identity != identity, "an edit starts a new canary")
    }

    @Test func olderTablesDecodeWithDefaultsAndBadValuesAreRefused() throws {
        let old = try JSONDecoder().decode(CanaryPolicy.self, from: Data(#"{"version": 2, "splitPercent": 10}"#.utf8))
        #expect(old == (try CanaryPolicy(version: 2, splitPercent: 10)))
        #expect(old.mirrorPercent == 0 && old.mirrorTimeoutMs == CanaryPolicy.defaultMirrorTimeoutMs && old.abort.minSamples == 200)
        let full = try CanaryPolicy(version: 3, splitPercent: 0, mirrorPercent: 50, mirrorTimeoutMs: 200, compare: .init(atol: 1e-6, rtol: 0),
                                    abort: .init(minSamples: 10), aborted: "why")
        #expect(try JSONDecoder().decode(CanaryPolicy.self, from: JSONEncoder().encode(full)) == full)
        for bad in [#"{"version": 2, "splitPercent": 10, "mirrorPercent": 101}"#, #"{"version": 2, "splitPercent": 10, "mirrorTimeoutMs": 0}"#,
                    #"{"version": 2, "splitPercent": 10, "compare": {"atol": -1, "rtol": 0}}"#,
                    #"{"version": 2, "splitPercent": 10, "abort": {"minSamples": 0, "maxTop1DisagreePercent": 1, "maxOutOfTolerancePercent": 1, "maxErrorPercent": 1}}"#] {
            #expect(throws: (any Error).self, "\(bad)") { try JSONDecoder().decode(CanaryPolicy.self, from: Data(bad.utf8)) }
        }
    }

    @Test func aTableWhoseCanaryIsNotRoutedIsRefused() {
        let json = #"{"generation": 3, "models": {"digits": {"versions": {"1": ["127.0.0.1:1"]}, "labels": {}, "default": 1, "hedging": {"percentile": 95, "budgetPercent": 5, "minDelayMs": 1, "maxDelayMs": 1000}, "canary": {"version": 2, "splitPercent": 10}}}}"#
        #expect(throws: (any Error).self) { try JSONDecoder().decode(RoutingTable.self, from: Data(json.utf8)) }
        let fine = json.replacingOccurrences(of: #""version": 2"#, with: #""version": 1"#)
        #expect((try? JSONDecoder().decode(RoutingTable.self, from: Data(fine.utf8)))?.models["digits"]?.canary?.splitPercent == 10)
    }
}
