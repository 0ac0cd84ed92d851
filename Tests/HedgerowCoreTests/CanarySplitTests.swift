import Foundation
import HedgerowCore
import Testing

@Suite struct CanarySplitTests {
    @Test func theShareFollowsTheRequestIdAndIsIndependentOfOtherSamplings() throws {
        let canary = try CanarySplit(version: 2, splitPercent: 30)
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
        #expect(ids.allSatisfy { !(try! CanarySplit(version: 2, splitPercent: 0)).takes(requestId: $0) })
        #expect(ids.allSatisfy { (try! CanarySplit(version: 2, splitPercent: 100)).takes(requestId: $0) })
    }

    @Test func outOfRangeSplitsAreRefused() {
        #expect(throws: HedgerowError.self) { try CanarySplit(version: 0, splitPercent: 10) }
        #expect(throws: HedgerowError.self) { try CanarySplit(version: 2, splitPercent: -1) }
        #expect(throws: HedgerowError.self) { try CanarySplit(version: 2, splitPercent: .infinity) }
    }

    @Test func aTableWhoseCanaryIsNotRoutedIsRefused() {
        let json = #"{"generation": 3, "models": {"digits": {"versions": {"1": ["127.0.0.1:1"]}, "labels": {}, "default": 1, "hedging": {"percentile": 95, "budgetPercent": 5, "minDelayMs": 1, "maxDelayMs": 1000}, "canary": {"version": 2, "splitPercent": 10}}}}"#
        #expect(throws: (any Error).self) { try JSONDecoder().decode(RoutingTable.self, from: Data(json.utf8)) }
        let fine = json.replacingOccurrences(of: #""version": 2"#, with: #""version": 1"#)
        #expect((try? JSONDecoder().decode(RoutingTable.self, from: Data(fine.utf8)))?.models["digits"]?.canary?.splitPercent == 10)
    }
}
