import HedgerowRouter
import Testing

@Suite struct HedgeBudgetTests {
    @Test func allowsOneBackupPerTwentyRequestsAtFivePercent() {
        let budget = HedgeBudget()
        var granted = 0
        for _ in 0..<1000 {
            budget.deposit(percent: 5)
            if budget.withdraw() { granted += 1 }
        }
        #expect(granted == 50)
    }

    @Test func zeroPercentNeverHedges() {
        let budget = HedgeBudget()
        for _ in 0..<100 { budget.deposit(percent: 0) }
        #expect(!budget.withdraw())
    }

    @Test func burstIsCapped() {
        let budget = HedgeBudget(capacity: 3)
        for _ in 0..<10_000 { budget.deposit(percent: 50) }
        var granted = 0
        while budget.withdraw() { granted += 1 }
        #expect(granted == 3)
    }
}
