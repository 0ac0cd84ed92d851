import HedgerowCore

/// When to run the requests waiting for one model version, as a value: events in, decisions out.
///
/// A batch runs when `maxBatchSize` rows wait or when the oldest request has waited `maxDelay`, whichever comes
/// first. The batch itself is taken when a thread is ready to run it (`takeBatch`), not when the run is decided, so
/// requests that arrive while every inference thread is busy join the next batch for free.
///
/// Invariants: at most one run is outstanding (`runPending`) — the runner asks for the next one when it takes a
/// batch; a flush timer is asked for only when none is set for an earlier or equal instant; items leave in arrival
/// order, except that an item whose shape cannot join the head's batch waits for a later one.
public struct BatchQueue<Item> {
    public struct Entry {
        public var item: Item
        /// Rows this request adds to a batch (its inputs' first dimension).
        public var rows: Int
        /// Requests merge only with requests of the same key (same input types and trailing dimensions).
        public var key: BatchKey
        public var enqueued: ContinuousClock.Instant
    }

    public enum Action: Equatable {
        case none
        /// Hand a run to an inference thread; it calls `takeBatch` when it starts.
        case run
        /// Call `timerFired` at this instant (no timer is set for an earlier one).
        case setTimer(ContinuousClock.Instant)
    }

    public struct Batch {
        /// Items to run together, in arrival order; their rows add up to at most `maxBatchSize` (or one item that
        /// alone has more rows).
        public var items: [Item]
        /// Items whose client went away while they waited: answer them without running.
        public var dropped: [Item]
        /// What the caller must do next for the items still waiting.
        public var next: Action
    }

    public var policy: BatchingPolicy
    private(set) var entries: [Entry] = []
    private(set) var runPending = false
    private var timer: ContinuousClock.Instant?

    public init(policy: BatchingPolicy) {
        self.policy = policy
    }

    /// Requests waiting, for the queue depth metric.
    public var depth: Int { entries.count }

    public mutating func enqueue(_ item: Item, rows: Int, key: BatchKey, now: ContinuousClock.Instant) -> Action {
        entries.append(Entry(item: item, rows: rows, key: key, enqueued: now))
        return decide(now: now)
    }

    /// The flush timer went off: run if the oldest request has waited long enough, else set the timer again.
    public mutating func timerFired(now: ContinuousClock.Instant) -> Action {
        timer = nil
        return decide(now: now)
    }

    /// Takes the next batch. `isCancelled` is asked of every item looked at; cancelled ones are dropped, never run.
    public mutating func takeBatch(now: ContinuousClock.Instant, isCancelled: (Item) -> Bool) -> Batch {
        runPending = false
        var taken: [Item] = []
        var dropped: [Item] = []
        var remaining: [Entry] = []
        var rows = 0
        var key: BatchKey?
        for entry in entries {
            if isCancelled(entry.item) {
                dropped.append(entry.item)
                continue
            }
            let fits = key == nil || (entry.key == key && rows + entry.rows <= policy.maxBatchSize)
            if fits {
                key = key ?? entry.key
                rows += entry.rows
                taken.append(entry.item)
            } else {
                remaining.append(entry)
            }
        }
        entries = remaining
        return Batch(items: taken, dropped: dropped, next: decide(now: now))
    }

    /// Empties the queue, for a shutdown: the caller answers every item.
    public mutating func removeAll() -> [Item] {
        defer { entries = [] }
        return entries.map(\.item)
    }

    private mutating func decide(now: ContinuousClock.Instant) -> Action {
        guard !runPending, let oldest = entries.first else { return .none }
        let deadline = oldest.enqueued.advanced(by: .microseconds(policy.maxDelayMicros))
        let headRows = entries.lazy.filter { $0.key == oldest.key }.reduce(0) { $0 + $1.rows }
        if headRows >= policy.maxBatchSize || deadline <= now {
            runPending = true
            return .run
        }
        if let timer, timer <= deadline { return .none }
        timer = deadline
        return .setTimer(deadline)
    }
}

/// What must match for two requests to share a batch: each input's element type and every dimension but the first.
public struct BatchKey: Hashable, Sendable {
    let inputs: [String: [Int]]
    let types: [String: ElementType]
}

extension BatchQueue: Sendable where Item: Sendable {}
extension BatchQueue.Entry: Sendable where Item: Sendable {}
