import HedgerowRouter
import Testing

@Suite struct EndpointSelectorTests {
    @Test func picksTheLessLoadedOfTwoSamples() {
        let load = ["a": 5, "b": 1, "c": 0]
        // Samples a (index 0) and b (index 1): b wins although c is idle — only two are looked at.
        var draws = [0, 0].makeIterator()
        let order = EndpointSelector.order(["a", "b", "c"], cost: { Double(load[$0]!) }, random: { _ in draws.next()! })
        #expect(order == ["b", "c", "a"])
    }

    @Test func samplesTwoDistinctReplicas() {
        for _ in 0..<200 {
            let order = EndpointSelector.order(["a", "b"], cost: { $0 == "a" ? 1 : 0 })
            #expect(order == ["b", "a"])  // both always sampled, the idle one always wins
        }
    }

    @Test func singleReplicaAndEmptyPools() {
        #expect(EndpointSelector.order(["a"], cost: { _ in 0 }) == ["a"])
        #expect(EndpointSelector.order([], cost: { _ in 0 }) == [])
    }

    @Test func backupsGoToAnotherZoneFirst() {
        let zones = ["a1": "a", "a2": "a", "b1": "b", "b2": "b"]
        // Cost order a1, a2, b1, b2: the primary stays, the other zone moves ahead, cost order kept inside each.
        #expect(EndpointSelector.spreadBackups(["a1", "a2", "b1", "b2"], domain: { zones[$0]! }) == ["a1", "b1", "b2", "a2"])
        #expect(EndpointSelector.spreadBackups(["b2", "b1", "a2", "a1"], domain: { zones[$0]! }) == ["b2", "a2", "a1", "b1"])
        // One zone only: nothing to spread.
        #expect(EndpointSelector.spreadBackups(["a1", "a2"], domain: { zones[$0]! }) == ["a1", "a2"])
    }
}
