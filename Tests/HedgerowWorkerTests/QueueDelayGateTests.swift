@testable import HedgerowWorker
import NIOCore
import Testing

@Suite struct QueueDelayGateTests {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
    func at(_ ms: Int64) -> NIODeadline { t0 + .milliseconds(ms) }

    @Test func refusesWhileTheOldestWaiterIsPastTheTargetAndAdmitsOnceItRuns() {
        let gate = QueueDelayGate(targetNanoseconds: 100_000_000)
        let first = gate.admit(now: at(0))
        #expect(first != nil)
        #expect(gate.admit(now: at(50)) != nil)
        // The first has waited 101 ms: everything new is refused.
        #expect(gate.admit(now: at(101)) == nil)
        // It runs; the oldest waiter is now the one admitted at 50 ms, 60 ms ago.
        gate.stoppedWaiting(first!)
        #expect(gate.admit(now: at(110)) != nil)
        #expect(gate.waitingCount == 2)
    }

    @Test func anEmptyQueueAlwaysAdmitsSoTheGateNeverLocksShut() {
        let gate = QueueDelayGate(targetNanoseconds: 100_000_000)
        let ticket = gate.admit(now: at(0))!
        #expect(gate.admit(now: at(500)) == nil)
        gate.stoppedWaiting(ticket)
        #expect(gate.admit(now: at(10_000)) != nil)
    }

    @Test func aRequestThatWaitedTwiceTheTargetIsRefusedWhenAThreadTakesIt() {
        let gate = QueueDelayGate(targetNanoseconds: 100_000_000)
        let late = gate.admit(now: at(0))!
        let fresh = gate.admit(now: at(90))!
        #expect(!gate.mayProceed(late, now: at(201)))
        #expect(gate.mayProceed(fresh, now: at(201)))
        // The refused one waits no more: only `fresh` is counted.
        #expect(gate.waitingCount == 1)
    }

    @Test func stoppingTwiceOrOutOfOrderIsHarmless() {
        let gate = QueueDelayGate(targetNanoseconds: 100_000_000)
        let a = gate.admit(now: at(0))!, b = gate.admit(now: at(1))!, c = gate.admit(now: at(2))!
        gate.stoppedWaiting(b)
        gate.stoppedWaiting(b)
        #expect(gate.waitingCount == 2)
        gate.stoppedWaiting(a)
        // Now c (admitted at 2 ms) is the oldest: at 101 ms it has waited 99 ms.
        #expect(gate.admit(now: at(101)) != nil)
        gate.stoppedWaiting(c)
    }

    @Test func targetZeroAdmitsEverything() {
        let gate = QueueDelayGate(targetNanoseconds: 0)
        for i in 0..<100 { #expect(gate.admit(now: at(Int64(i) * 1000)) != nil) }
        #expect(gate.waitingCount == 0)
    }
}
