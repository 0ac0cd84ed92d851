import NIOConcurrencyHelpers
@testable import HedgerowWorker
import Testing

@Suite struct ShadowLaneTests {
    @Test func shadowsWaitWhileServedRequestsWaitAndAreBounded() {
        let served = NIOLockedValueBox(0)
        let started = NIOLockedValueBox<[Int]>([])
        let lane = ShadowLane(capacity: 2, maxRunning: 1, servedWaiting: { served.withLockedValue { $0 } })
        // Nothing served waits: the first shadow starts at once; the second waits for the first (one at a time).
        #expect(lane.submit { started.withLockedValue { $0.append(1) } })
        #expect(lane.submit { started.withLockedValue { $0.append(2) } })
        #expect(started.withLockedValue { $0 } == [1] && lane.counts == (1, 1))
        // A served request waits for a thread: the first shadow's end does not start the next.
        served.withLockedValue { $0 = 1 }
        lane.finished()
        #expect(started.withLockedValue { $0 } == [1] && lane.counts == (1, 0))
        #expect(lane.submit { started.withLockedValue { $0.append(3) } })
        #expect(!lane.submit { started.withLockedValue { $0.append(4) } }, "past capacity a shadow is refused")
        // The served request starts running: waiting shadows go, in order, one at a time.
        served.withLockedValue { $0 = 0 }
        lane.pump()
        #expect(started.withLockedValue { $0 } == [1, 2])
        lane.finished()
        #expect(started.withLockedValue { $0 } == [1, 2, 3])
        lane.finished()
        #expect(lane.counts == (0, 0))
    }

    @Test func drainingStartsEveryWaitingShadow() {
        let started = NIOLockedValueBox(0)
        let lane = ShadowLane(capacity: 8, maxRunning: 1, servedWaiting: { 1 })
        for _ in 0..<3 { #expect(lane.submit { started.withLockedValue { $0 += 1 } }) }
        #expect(started.withLockedValue { $0 } == 0 && lane.counts.waiting == 3)
        lane.drain()
        #expect(started.withLockedValue { $0 } == 3 && lane.counts.waiting == 0)
    }
}
