@testable import HedgerowRouter
import Testing

@Suite struct HedgedCallStateMachineTests {
    typealias Machine = HedgedCallStateMachine<String>

    @Test func firstResponseWinsAndTheOtherAttemptIsCancelled() {
        var m = Machine(candidates: ["a", "b", "c"])
        guard case .start(1, "a", .primary) = m.start() else { Issue.record("primary not started on a"); return }
        guard case .start(2, "b", .hedge) = m.hedgeTimerFired(budgetAllows: { true }) else { Issue.record("hedge not sent to b"); return }
        // At most two in flight: a second timer fire sends nothing.
        guard case .none = m.hedgeTimerFired(budgetAllows: { true }) else { Issue.record("third attempt started"); return }
        guard case .finish("from b", winner: 2, losers: [1]) = m.attemptFinished(2, .response("from b")) else { Issue.record("hedge did not win"); return }
        // The loser's late answer changes nothing.
        guard case .none = m.attemptFinished(1, .response("from a")) else { Issue.record("late answer acted on"); return }
    }

    @Test func noBudgetNoHedge() {
        var m = Machine(candidates: ["a", "b"])
        _ = m.start()
        var asked = false
        guard case .none = m.hedgeTimerFired(budgetAllows: { asked = true; return false }) else { Issue.record("hedged without budget"); return }
        #expect(asked)
    }

    @Test func budgetIsNotSpentWhenNoBackupCanBeSent() {
        var m = Machine(candidates: ["only"])
        _ = m.start()
        var asked = false
        _ = m.hedgeTimerFired(budgetAllows: { asked = true; return true })
        #expect(!asked)
    }

    @Test func refusedConnectionIsRetriedOnAnotherReplica() {
        var m = Machine(candidates: ["dead", "alive"])
        _ = m.start()
        guard case .start(2, "alive", .retry) = m.attemptFinished(1, .connectionFailed("connection refused")) else { Issue.record("no retry"); return }
        guard case .finish("ok", winner: 2, losers: []) = m.attemptFinished(2, .response("ok")) else { Issue.record("retry did not answer"); return }
    }

    @Test func failsWithTheLastErrorWhenEveryReplicaFailed() {
        var m = Machine(candidates: ["a", "b"])
        _ = m.start()
        _ = m.attemptFinished(1, .connectionFailed("a refused"))
        guard case .fail("b refused", cancel: []) = m.attemptFinished(2, .connectionFailed("b refused")) else { Issue.record("did not fail"); return }
        #expect(m.isFinished)
    }

    @Test func fatalErrorsAreNotRetriedButWaitForOtherAttempts() {
        var m = Machine(candidates: ["a", "b", "c"])
        _ = m.start()
        _ = m.hedgeTimerFired(budgetAllows: { true })
        guard case .none = m.attemptFinished(1, .fatal("timed out")) else { Issue.record("gave up while b was in flight"); return }
        guard case .finish("b", winner: 2, losers: []) = m.attemptFinished(2, .response("b")) else { Issue.record("b lost"); return }
    }

    @Test func deadlineCancelsEverythingInFlight() {
        var m = Machine(candidates: ["a", "b"])
        _ = m.start()
        _ = m.hedgeTimerFired(budgetAllows: { true })
        guard case .fail("deadline exceeded", cancel: [1, 2]) = m.deadlineExpired() else { Issue.record("deadline did not cancel"); return }
        guard case .none = m.attemptFinished(1, .response("late")) else { Issue.record("answer after deadline"); return }
    }

    @Test func overloadRetryDrawsOnTheBudgetButConnectionFailureDoesNot() {
        var m = Machine(candidates: ["busy", "b", "c"])
        _ = m.start()
        var asked = 0
        guard case .fail("busy answered 503", cancel: []) = m.attemptFinished(1, .overloaded("busy answered 503"), budgetAllows: { asked += 1; return false }) else {
            Issue.record("503 retried without budget"); return
        }
        #expect(asked == 1)

        var n = Machine(candidates: ["dead", "b"])
        _ = n.start()
        guard case .start(2, "b", .retry) = n.attemptFinished(1, .connectionFailed("refused"), budgetAllows: { asked += 1; return false }) else {
            Issue.record("connection failure not retried"); return
        }
        #expect(asked == 1)  // not asked
    }

    @Test func overloadRetryWithBudgetGoesToTheNextReplica() {
        var m = Machine(candidates: ["busy", "b"])
        _ = m.start()
        guard case .start(2, "b", .retry) = m.attemptFinished(1, .overloaded("503"), budgetAllows: { true }) else { Issue.record("no retry"); return }
        // Nothing left to try: the budget is not asked again, the last error is returned.
        guard case .fail("503 again", cancel: []) = m.attemptFinished(2, .overloaded("503 again"), budgetAllows: { Issue.record("asked"); return true }) else {
            Issue.record("did not fail"); return
        }
    }

    @Test func neverMoreThanMaxAttemptsInFlight() {
        var m = Machine(candidates: ["a", "b", "c", "d"], maxAttempts: 3)
        _ = m.start()
        guard case .start(2, "b", .hedge) = m.hedgeTimerFired(budgetAllows: { true }) else { Issue.record("no 2nd"); return }
        guard case .start(3, "c", .hedge) = m.hedgeTimerFired(budgetAllows: { true }) else { Issue.record("no 3rd"); return }
        guard case .none = m.hedgeTimerFired(budgetAllows: { true }) else { Issue.record("4th in flight"); return }
        // A failed attempt frees a slot, and its retry takes it.
        guard case .start(4, "d", .retry) = m.attemptFinished(2, .connectionFailed("reset")) else { Issue.record("no retry"); return }
    }
}
