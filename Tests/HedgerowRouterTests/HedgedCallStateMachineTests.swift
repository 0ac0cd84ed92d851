@testable import HedgerowRouter
import Testing

@Suite struct HedgedCallStateMachineTests {
    typealias Machine = HedgedCallStateMachine<String>

    /// The failures the tests use: what the transport or the replica would report, as values.
    func refused(_ replica: String) -> AttemptFailure { .transport(.connectFailed(address: replica, reason: "connection refused")) }
    func lost(_ replica: String) -> AttemptFailure { .transport(.connectionLost(address: replica)) }
    func busy(_ replica: String) -> AttemptFailure { .overloaded(replica: replica, detail: "queue full") }

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
        guard case .start(2, "alive", .retry) = m.attemptFinished(1, .notSent(refused("dead"))) else { Issue.record("no retry"); return }
        guard case .finish("ok", winner: 2, losers: []) = m.attemptFinished(2, .response("ok")) else { Issue.record("retry did not answer"); return }
    }

    @Test func failsWithTheLastErrorWhenEveryReplicaFailed() {
        var m = Machine(candidates: ["a", "b"])
        _ = m.start()
        _ = m.attemptFinished(1, .notSent(refused("a")))
        guard case .fail(.noAnswer(refused("b")), cancel: []) = m.attemptFinished(2, .notSent(refused("b"))) else { Issue.record("did not fail"); return }
        #expect(m.isFinished)
    }

    @Test func fatalErrorsAreNotRetriedButWaitForOtherAttempts() {
        var m = Machine(candidates: ["a", "b", "c"])
        _ = m.start()
        _ = m.hedgeTimerFired(budgetAllows: { true })
        guard case .none = m.attemptFinished(1, .fatal(.transport(.timedOut(address: "a")))) else { Issue.record("gave up while b was in flight"); return }
        guard case .finish("b", winner: 2, losers: []) = m.attemptFinished(2, .response("b")) else { Issue.record("b lost"); return }
    }

    @Test func deadlineCancelsEverythingInFlight() {
        var m = Machine(candidates: ["a", "b"])
        _ = m.start()
        _ = m.hedgeTimerFired(budgetAllows: { true })
        guard case .fail(.deadlineExceeded, cancel: [1, 2]) = m.deadlineExpired() else { Issue.record("deadline did not cancel"); return }
        guard case .none = m.attemptFinished(1, .response("late")) else { Issue.record("answer after deadline"); return }
    }

    @Test func overloadRetryDrawsOnTheBudgetButConnectionFailureDoesNot() {
        var m = Machine(candidates: ["busy", "b", "c"])
        _ = m.start()
        var asked = 0
        guard case .fail(.noAnswer(busy("busy")), cancel: []) = m.attemptFinished(1, .overloaded(busy("busy")), budgetAllows: { asked += 1; return false }) else {
            Issue.record("503 retried without budget"); return
        }
        #expect(asked == 1)

        var n = Machine(candidates: ["dead", "b"])
        _ = n.start()
        guard case .start(2, "b", .retry) = n.attemptFinished(1, .notSent(refused("dead")), budgetAllows: { asked += 1; return false }) else {
            Issue.record("connection failure not retried"); return
        }
        #expect(asked == 1)  // not asked
    }

    @Test func overloadRetryWithBudgetGoesToTheNextReplica() {
        var m = Machine(candidates: ["busy", "b"])
        _ = m.start()
        guard case .start(2, "b", .retry) = m.attemptFinished(1, .overloaded(busy("busy")), budgetAllows: { true }) else { Issue.record("no retry"); return }
        // Nothing left to try: the budget is not asked again, the last error is returned.
        guard case .fail(.noAnswer(busy("b")), cancel: []) = m.attemptFinished(2, .overloaded(busy("b")), budgetAllows: { Issue.record("asked"); return true }) else {
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
        guard case .start(4, "d", .retry) = m.attemptFinished(2, .notSent(.transport(.streamRefused(address: "b", reason: "GOAWAY")))) else { Issue.record("no retry"); return }
    }

    // Query-of-death containment: a request whose connection died after it was sent may be what killed the replica.

    @Test func aLossAfterSendingIsRetriedOnceThenTheRequestFails() {
        var m = Machine(candidates: ["a", "b", "c"])
        _ = m.start()
        guard case .start(2, "b", .retry) = m.attemptFinished(1, .lostAfterSent(lost("a"))) else { Issue.record("first loss not retried"); return }
        // The retry dies too: the request fails instead of walking on to c.
        guard case .fail(.lostTwice(lost("b")), cancel: []) = m.attemptFinished(2, .lostAfterSent(lost("b"))) else { Issue.record("walked the pool"); return }
        #expect(m.isFinished)
    }

    @Test func afterALossNoHedgeGoesOutAndAnAttemptInFlightIsTheOneRetry() {
        var m = Machine(candidates: ["a", "b", "c"])
        _ = m.start()
        guard case .start(2, "b", .hedge) = m.hedgeTimerFired(budgetAllows: { true }) else { Issue.record("no hedge"); return }
        // The primary's replica died holding the request; the hedge on b is already the one more copy.
        guard case .none = m.attemptFinished(1, .lostAfterSent(lost("a"))) else { Issue.record("a third copy went out"); return }
        guard case .none = m.hedgeTimerFired(budgetAllows: { Issue.record("budget asked"); return true }) else { Issue.record("hedged after a loss"); return }
        guard case .finish("ok", winner: 2, losers: []) = m.attemptFinished(2, .response("ok")) else { Issue.record("b's answer lost"); return }
    }

    @Test func twoCopiesLostTogetherFailAtOnce() {
        var m = Machine(candidates: ["a", "b", "c"])
        _ = m.start()
        _ = m.hedgeTimerFired(budgetAllows: { true })
        _ = m.attemptFinished(2, .lostAfterSent(lost("b")))
        guard case .fail(.lostTwice(lost("a")), cancel: []) = m.attemptFinished(1, .lostAfterSent(lost("a"))) else { Issue.record("c was tried"); return }
    }

    @Test func failuresBeforeSendingStayFreeAfterALoss() {
        var m = Machine(candidates: ["a", "b", "c", "d"])
        _ = m.start()
        _ = m.attemptFinished(1, .lostAfterSent(lost("a")))
        // b refused the connection: it never saw the request, so c may still be tried (one copy at a time).
        guard case .start(3, "c", .retry) = m.attemptFinished(2, .notSent(refused("b"))) else { Issue.record("no retry after a refusal"); return }
        guard case .finish("ok", winner: 3, losers: []) = m.attemptFinished(3, .response("ok")) else { Issue.record("c's answer lost"); return }
    }

    @Test func aKnownHarmlessRequestMayTakeOneMoreLossButNotTwo() {
        var m = Machine(candidates: ["a", "b", "c", "d"])
        _ = m.start()
        _ = m.attemptFinished(1, .lostAfterSent(lost("a")))
        var asked = 0
        guard case .start(3, "c", .retry) = m.attemptFinished(2, .lostAfterSent(lost("b")), knownHarmless: { asked += 1; return true }) else {
            Issue.record("a harmless request was failed"); return
        }
        guard case .fail(.lostTwice(lost("c")), cancel: []) = m.attemptFinished(3, .lostAfterSent(lost("c")), knownHarmless: { true }) else {
            Issue.record("a third loss was retried"); return
        }
        #expect(asked == 1)
    }

    @Test func aSingleLossDoesNotAskWhetherTheRequestIsHarmless() {
        var m = Machine(candidates: ["a", "b"])
        _ = m.start()
        guard case .start(2, "b", .retry) = m.attemptFinished(1, .lostAfterSent(lost("a")), knownHarmless: { Issue.record("asked"); return false }) else {
            Issue.record("no retry"); return
        }
    }

    @Test func aLossWithNoReplicaLeftFailsAsNoAnswer() {
        var m = Machine(candidates: ["only"])
        _ = m.start()
        guard case .fail(.noAnswer(lost("only")), cancel: []) = m.attemptFinished(1, .lostAfterSent(lost("only"))) else { Issue.record("wrong failure"); return }
    }

    @Test func anEmptyPoolFailsAsNoReplicas() {
        var m = Machine(candidates: [])
        guard case .fail(.noReplicas, cancel: []) = m.start() else { Issue.record("wrong failure"); return }
    }
}
