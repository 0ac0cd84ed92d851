import HedgerowCore
import Testing

@Suite struct HedgeBudgetTests {
    static let second: UInt64 = 1_000_000_000

    /// No floor: the share alone.
    static func budget(floor: Double = 0) -> HedgeBudget {
        var settings = HedgeBudget.Settings()
        settings.floorPerSecond = floor
        return HedgeBudget(settings: settings)
    }

    @Test func allowsOneExtraPerTwentyRequestsAtFivePercent() {
        var budget = Self.budget()
        var granted = 0
        for i in 0..<1000 {
            let now = UInt64(i) * Self.second / 200  // 200 requests a second for 5 s
            budget.deposit(percent: 5, now: now)
            if budget.withdraw(percent: 5, now: now) { granted += 1 }
        }
        #expect(granted == 50)
    }

    @Test func zeroPercentNeverHedgesEvenWithAFloor() {
        var budget = Self.budget(floor: 10)
        for _ in 0..<100 { budget.deposit(percent: 0, now: 0) }
        let granted = budget.withdraw(percent: 0, now: 0)
        #expect(!granted)
    }

    /// The burst a stall needs: 400 req/s at 5% for a second, then a freeze strands 25 requests at once. A bucket
    /// capped at 10 tokens (the budget before issue 12) granted 10 of them; the window grants what the second
    /// earned.
    @Test func aStallCanSpendWhatTheQuietSecondEarned() {
        var budget = Self.budget()
        for i in 0..<400 { budget.deposit(percent: 5, now: UInt64(i) * Self.second / 400) }
        var granted = 0
        for _ in 0..<25 where budget.withdraw(percent: 5, now: Self.second) { granted += 1 }
        #expect(granted == 20)
    }

    /// Under a sustained overload, when every request would be hedged, extras stay at the share.
    @Test func aSustainedOverloadGetsNoMoreThanTheShare() {
        var budget = Self.budget(floor: 1)
        var granted = 0
        let requests = 60 * 1000  // 1000 req/s for 60 s, every one asking for a backup
        for i in 0..<requests {
            let now = UInt64(i) * Self.second / 1000
            budget.deposit(percent: 5, now: now)
            if budget.withdraw(percent: 5, now: now) { granted += 1 }
        }
        // 5% of the requests plus the floor of 1 a second (60), nothing more.
        #expect(granted <= requests / 20 + 60)
        #expect(granted >= requests / 20)
    }

    /// Earnings and spending leave the window together: an old burst does not block hedges for ever, and old
    /// earnings cannot be saved up for later.
    @Test func theWindowForgetsOldSeconds() {
        var budget = Self.budget()
        for i in 0..<100 { budget.deposit(percent: 5, now: UInt64(i) * Self.second / 100) }
        var granted = 0
        while budget.withdraw(percent: 5, now: Self.second) { granted += 1 }
        #expect(granted == 5)
        // Eleven seconds later with no requests in between, nothing is left to spend.
        let later = budget.withdraw(percent: 5, now: 12 * Self.second)
        #expect(!later)
    }

    @Test func theFloorLetsAQuietModelHedge() {
        var budget = Self.budget(floor: 1)
        // One request every two seconds earns 0.025 hedges per window; the floor still grants some.
        budget.deposit(percent: 5, now: 0)
        let first = budget.withdraw(percent: 5, now: 0)
        #expect(first)
        var granted = 1
        for _ in 0..<100 where budget.withdraw(percent: 5, now: 0) { granted += 1 }
        #expect(granted == 10)  // 1 a second over the 10 s window
    }
}
