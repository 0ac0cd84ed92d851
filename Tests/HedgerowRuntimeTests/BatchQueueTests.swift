import HedgerowCore
import HedgerowRuntime
import Testing

@Suite struct BatchQueueTests {
    let t0 = ContinuousClock.now
    let key = BatchAssembly.shape(of: ["x": Tensor(shape: [1, 4], floats: [0, 0, 0, 0])])!.key
    let otherKey = BatchAssembly.shape(of: ["x": Tensor(shape: [1, 3], floats: [0, 0, 0])])!.key

    func queue(size: Int = 4, delay: Int = 500) throws -> BatchQueue<Int> {
        BatchQueue(policy: try BatchingPolicy(maxBatchSize: size, maxDelayMicros: delay))
    }

    @Test func aLoneRequestWaitsForTheDelayThenRuns() throws {
        var q = try queue()
        #expect(q.enqueue(1, rows: 1, key: key, now: t0) == .setTimer(t0 + .microseconds(500)))
        #expect(q.enqueue(2, rows: 1, key: key, now: t0 + .microseconds(100)) == .none, "a timer is already set for the oldest")
        #expect(q.timerFired(now: t0 + .microseconds(499)) == .setTimer(t0 + .microseconds(500)), "early timer: wait again")
        #expect(q.timerFired(now: t0 + .microseconds(500)) == .run)
        let batch = q.takeBatch(now: t0 + .microseconds(510)) { _ in false }
        #expect(batch.items == [1, 2])
        #expect(batch.next == .none)
        #expect(q.depth == 0)
    }

    @Test func aFullBatchRunsAtOnceAndOnlyOnce() throws {
        var q = try queue(size: 3)
        _ = q.enqueue(1, rows: 1, key: key, now: t0)
        _ = q.enqueue(2, rows: 1, key: key, now: t0)
        #expect(q.enqueue(3, rows: 1, key: key, now: t0) == .run)
        #expect(q.enqueue(4, rows: 1, key: key, now: t0) == .none, "one run is outstanding; it takes the batch when it starts")
        let batch = q.takeBatch(now: t0) { _ in false }
        #expect(batch.items == [1, 2, 3])
        #expect(batch.next == .setTimer(t0 + .microseconds(500)) || batch.next == .none)
        #expect(q.depth == 1)
    }

    @Test func rowsNotRequestsCountTowardsTheBatchSize() throws {
        var q = try queue(size: 4)
        _ = q.enqueue(1, rows: 3, key: key, now: t0)
        #expect(q.enqueue(2, rows: 2, key: key, now: t0) == .run)
        let first = q.takeBatch(now: t0) { _ in false }
        #expect(first.items == [1], "3 + 2 rows would pass maxBatchSize 4")
        #expect(q.takeBatch(now: t0 + .seconds(1)) { _ in false }.items == [2])
    }

    @Test func aRequestLargerThanTheBatchRunsAlone() throws {
        var q = try queue(size: 4)
        #expect(q.enqueue(1, rows: 10, key: key, now: t0) == .run)
        #expect(q.takeBatch(now: t0) { _ in false }.items == [1])
    }

    @Test func requestsOfOtherShapesWaitForTheirOwnBatch() throws {
        var q = try queue(size: 4)
        _ = q.enqueue(1, rows: 1, key: key, now: t0)
        _ = q.enqueue(2, rows: 1, key: otherKey, now: t0)
        _ = q.enqueue(3, rows: 1, key: key, now: t0)
        let first = q.takeBatch(now: t0 + .seconds(1)) { _ in false }
        #expect(first.items == [1, 3])
        #expect(first.next == .run, "the other shape's request is past its delay")
        #expect(q.takeBatch(now: t0 + .seconds(1)) { _ in false }.items == [2])
    }

    @Test func cancelledRequestsAreDroppedNotRun() throws {
        var q = try queue(size: 4)
        for i in 1...4 { _ = q.enqueue(i, rows: 1, key: key, now: t0) }
        let batch = q.takeBatch(now: t0) { $0 % 2 == 0 }
        #expect(batch.items == [1, 3])
        #expect(batch.dropped == [2, 4])
        #expect(q.depth == 0)
    }

    @Test func zeroDelayRunsAtOnceAndMergesWhatQueuedMeanwhile() throws {
        var q = try queue(size: 8, delay: 0)
        #expect(q.enqueue(1, rows: 1, key: key, now: t0) == .run)
        // The inference threads are busy; these arrive before the run starts.
        #expect(q.enqueue(2, rows: 1, key: key, now: t0) == .none)
        #expect(q.enqueue(3, rows: 1, key: key, now: t0) == .none)
        #expect(q.takeBatch(now: t0) { _ in false }.items == [1, 2, 3])
    }

    @Test func aBatchSizeOfOneNeverMerges() throws {
        var q = try queue(size: 1)
        #expect(q.enqueue(1, rows: 1, key: key, now: t0) == .run)
        _ = q.enqueue(2, rows: 1, key: key, now: t0)
        let batch = q.takeBatch(now: t0) { _ in false }
        #expect(batch.items == [1])
        #expect(batch.next == .run)
    }
}
