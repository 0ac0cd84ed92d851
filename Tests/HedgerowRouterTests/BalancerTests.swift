@testable import HedgerowRouter
import Testing

@Suite struct BalancerTests {
    @Test func picksTheLessLoadedOfTwoSamples() {
        let load: [String: Double] = ["a": 5, "b": 1, "c": 0]
        // Samples a (index 0) and b (index 1): b wins although c is idle — only two are looked at.
        var draws = [0, 0].makeIterator()
        let order = Balancer.order(["a", "b", "c"], cost: { load[$0] ?? 0 }, domain: { $0 }, random: { _ in draws.next() ?? 0 })
        #expect(order == ["b", "c", "a"])
    }

    @Test func samplesTwoDistinctReplicas() {
        for _ in 0..<200 {
            let order = Balancer.order(["a", "b"], cost: { $0 == "a" ? 1 : 0 }, domain: { $0 })
            #expect(order == ["b", "a"])  // both always sampled, the idle one always wins
        }
    }

    @Test func singleReplicaAndEmptyPools() {
        #expect(Balancer.order(["a"], cost: { _ in 0 }, domain: { $0 }) == ["a"])
        #expect(Balancer.order([], cost: { _ in 0 }, domain: { $0 }) == [])
    }

    @Test func backupsGoToAnotherZoneFirst() {
        let zones = ["a1": "a", "a2": "a", "b1": "b", "b2": "b"]
        // Cost order a1, a2, b1, b2: the primary stays, the other zone moves ahead, cost order kept inside each.
        #expect(Balancer.spreadBackups(["a1", "a2", "b1", "b2"], domain: { zones[$0] ?? "" }) == ["a1", "b1", "b2", "a2"])
        #expect(Balancer.spreadBackups(["b2", "b1", "a2", "a1"], domain: { zones[$0] ?? "" }) == ["b2", "a2", "a1", "b1"])
        // One zone only: nothing to spread.
        #expect(Balancer.spreadBackups(["a1", "a2"], domain: { zones[$0] ?? "" }) == ["a1", "a2"])
    }

    @Test func theFinalOrderIsCostThenZoneSpread() {
        let cost: [String: Double] = ["a1": 1, "a2": 2, "b1": 3]
        let order = Balancer.order(["a1", "a2", "b1"], cost: { cost[$0] ?? 0 }, domain: { String($0.prefix(1)) }, random: { _ in 0 })
        #expect(order == ["a1", "b1", "a2"])
    }
}

extension BalancerTests {
    @Test func ejectedReplicasAreLeftOutOfTheFinalOrder() {
        var outliers = OutlierDetector()
        _ = outliers.recordFailure("dead", connectFailed: true, now: 0)
        let (order, ejected) = Balancer.order(["dead", "a", "b"], outliers: outliers, cost: { _ in 0 }, domain: { $0 })
        #expect(!order.contains("dead") && order.count == 2)
        #expect(ejected == 1)
    }
}
