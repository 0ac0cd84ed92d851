import Testing
@testable import HedgerowRouter

@Suite struct TrafficHistoryTests {
    let second: UInt64 = 1_000_000_000

    @Test func aSecondIsSummedUpWhenTheNextBegins() {
        var history = TrafficHistory(capacity: 10, now: 100 * second)
        for micros in 1...1000 { history.recordAnswer(status: 200, micros: UInt64(micros), now: 100 * second + UInt64(micros)) }
        history.recordAnswer(status: 503, micros: 5, now: 100 * second)
        history.recordAnswer(status: 404, micros: 5, now: 100 * second)
        history.recordHedge(now: 100 * second)
        #expect(history.points(now: 100 * second + 999_999_999).allSatisfy { $0.requests == 0 }, "the second being filled is not shown")
        let points = history.points(now: 101 * second)
        #expect(points.count == 10)
        #expect(points.map(\.second) == Array(91...100))
        let last = points[9]
        #expect(last.requests == 1002 && last.serverErrors == 1 && last.clientErrors == 1 && last.hedges == 1 && last.hedgeWins == 0)
        // HDR at 2 significant digits: within 1 %.
        #expect(last.p50Micros.map { abs(Double($0) - 500) <= 6 } == true, "\(String(describing: last.p50Micros))")
        #expect(last.p99Micros.map { abs(Double($0) - 990) <= 10 } == true, "\(String(describing: last.p99Micros))")
        #expect(last.p999Micros.map { $0 >= 990 && $0 <= 1010 } == true, "\(String(describing: last.p999Micros))")
    }

    @Test func quietSecondsReadAsEmptyPointsAndOldOnesLeaveTheRing() {
        var history = TrafficHistory(capacity: 5, now: 0)
        history.recordAnswer(status: 200, micros: 100, now: 1 * second)
        history.recordAnswer(status: 200, micros: 300, now: 3 * second)
        let points = history.points(now: 5 * second)
        #expect(points.map(\.second) == [0, 1, 2, 3, 4])
        #expect(points.map(\.requests) == [0, 1, 0, 1, 0])
        #expect(points[2].p99Micros == nil)
        // Seven seconds later the ring of five has wrapped: second 1's slot now stands for second 11, with nothing.
        history.recordAnswer(status: 200, micros: 100, now: 10 * second)
        let later = history.points(now: 12 * second)
        #expect(later.map(\.second) == [7, 8, 9, 10, 11])
        #expect(later.map(\.requests) == [0, 0, 0, 1, 0])
    }

    @Test func latenciesOutsideTheRangeAreClampedNotLost() {
        var history = TrafficHistory(capacity: 3, now: 0)
        history.recordAnswer(status: 200, micros: 0, now: 0)
        history.recordAnswer(status: 504, micros: 3_600_000_000, now: 0)
        let point = history.points(now: second).last
        #expect(point?.requests == 2)
        #expect(point?.p999Micros.map { $0 >= 59_000_000 } == true)
    }

    @Test func aClockThatStepsBackStaysInTheSameSecond() {
        var history = TrafficHistory(capacity: 3, now: 5 * second)
        history.recordAnswer(status: 200, micros: 10, now: 5 * second)
        history.recordAnswer(status: 200, micros: 10, now: 4 * second)
        #expect(history.points(now: 6 * second).last?.requests == 2)
    }
}
