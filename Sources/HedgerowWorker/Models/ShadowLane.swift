import NIOConcurrencyHelpers
import NIOCore

/// Where requests mirrored to a canary (`hedgerow-shadow: 1`) wait: behind served traffic, so that a shadow never
/// takes CPU a client's request is waiting for. The worker runs started shadows on a thread of their own at the
/// lowest CPU priority (`BackgroundPriority`), outside the batch queue, so the kernel too runs served inference first.
///
/// A shadow is handed to the inference pool only while no served request waits for a thread (`servedWaiting` is 0:
/// the `QueueDelayGate`'s admitted-but-not-running count) and fewer than `maxRunning` shadows are in the pool; the
/// others wait here in arrival order, at most `capacity` of them (past that a shadow is refused at once, and the
/// router counts it as unanswered, never against the candidate). Waiting shadows are started when a served request
/// stops waiting (`pump`) or a shadow ends (`finished`), so none waits for an event that never comes. A shadow
/// whose router gave up while it waited (the mirror's deadline) is found cancelled when it starts and costs nothing.
final class ShadowLane: Sendable {
    typealias Work = @Sendable () -> Void

    private struct State {
        var waiting = CircularBuffer<Work>()
        var running = 0
    }

    let capacity: Int
    let maxRunning: Int
    private let servedWaiting: @Sendable () -> Int
    private let state = NIOLockedValueBox(State())

    init(capacity: Int = 64, maxRunning: Int, servedWaiting: @escaping @Sendable () -> Int) {
        self.capacity = max(0, capacity)
        self.maxRunning = max(1, maxRunning)
        self.servedWaiting = servedWaiting
    }

    /// Starts `work` now or queues it; false when the lane is full (the caller refuses the shadow). Work started
    /// must call `finished` once when it ends.
    func submit(_ work: @escaping Work) -> Bool {
        enum Decision { case start, queued, refused }
        let decision = state.withLockedValue { state -> Decision in
            if state.waiting.isEmpty, state.running < maxRunning, servedWaiting() == 0 {
                state.running += 1
                return .start
            }
            guard state.waiting.count < capacity else { return .refused }
            state.waiting.append(work)
            return .queued
        }
        switch decision {
        case .start: work()
        case .queued: break
        case .refused: return false
        }
        return true
    }

    /// A shadow started by the lane ended.
    func finished() {
        state.withLockedValue { $0.running = max($0.running - 1, 0) }
        pump()
    }

    /// Starts waiting shadows while served traffic leaves room: call when a served request stops waiting.
    func pump() {
        while let next = state.withLockedValue({ state -> Work? in
            guard !state.waiting.isEmpty, state.running < maxRunning, servedWaiting() == 0 else { return nil }
            state.running += 1
            return state.waiting.removeFirst()
        }) {
            next()
        }
    }

    /// Starts every waiting shadow now, whatever runs: at shutdown, so that each is answered (its pool, shut down,
    /// answers "shutting down") rather than dropped with its response never sent.
    func drain() {
        let waiting = state.withLockedValue { state -> [Work] in
            defer { state.waiting.removeAll() }
            state.running += state.waiting.count
            return Array(state.waiting)
        }
        for work in waiting { work() }
    }

    /// Shadows waiting and running (for tests).
    var counts: (waiting: Int, running: Int) { state.withLockedValue { ($0.waiting.count, $0.running) } }
}
