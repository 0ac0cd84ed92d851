import NIOConcurrencyHelpers
import NIOCore

/// Admission control for a worker's inference, on queueing delay (as CoDel judges a queue by how long its items
/// wait, not by how many there are): the right bound whatever a model costs.
///
/// An admitted request waits (for a thread to decode it, then for its batch to run) until its graph run starts.
/// While the oldest admitted request still waiting has waited more than `target`, the worker is past its capacity:
/// new requests are refused at once with 503 and Retry-After (cheap: nothing decoded, nothing queued), and a
/// request that has waited more than twice the target when a thread takes it is refused instead of run. Admitted
/// requests therefore wait about `target` at most, the queue stays as short as the arrival rate times that, and the
/// threads never idle while admitted work waits, so goodput stays at capacity while the excess is shed. The signal
/// is the live age of the oldest waiter, never a stale sample: once the queue drains, requests are admitted again.
final class QueueDelayGate: Sendable {
    /// Nanoseconds; 0 turns admission control off.
    let target: Int64

    private struct State {
        var next: UInt64 = 0
        /// Admitted requests whose run has not started, by ticket, with their admission time.
        var waiting: [UInt64: NIODeadline] = [:]
        /// Tickets in admission order; tickets no longer waiting are dropped when they reach the front.
        var order = CircularBuffer<(ticket: UInt64, at: NIODeadline)>()

        mutating func dropStarted() {
            while let first = order.first, waiting[first.ticket] == nil { order.removeFirst() }
        }
    }

    private let state = NIOLockedValueBox(State())

    init(targetNanoseconds: Int64) {
        self.target = max(0, targetNanoseconds)
    }

    /// A ticket if a new request may queue, nil if it must be refused now.
    func admit(now: NIODeadline = .now()) -> UInt64? {
        state.withLockedValue { state in
            if target > 0, let oldest = state.order.first, (now - oldest.at).nanoseconds > target { return nil }
            let ticket = state.next
            state.next &+= 1
            if target > 0 {
                state.waiting[ticket] = now
                state.order.append((ticket, now))
            }
            return ticket
        }
    }

    /// Whether the worker is past its capacity now (a new served request would be refused): shadows are refused too.
    func isPastTarget(now: NIODeadline = .now()) -> Bool {
        guard target > 0 else { return false }
        return state.withLockedValue { state in state.order.first.map { (now - $0.at).nanoseconds > target } ?? false }
    }

    /// A thread took the request to decode it; false if it waited so long that it must be refused instead.
    func mayProceed(_ ticket: UInt64, now: NIODeadline = .now()) -> Bool {
        guard target > 0 else { return true }
        let admitted = state.withLockedValue { $0.waiting[ticket] }
        guard let admitted, (now - admitted).nanoseconds > 2 * target else { return true }
        stoppedWaiting(ticket)
        return false
    }

    /// The request's run started, or it ended without one (refused, cancelled, failed): it waits no more.
    func stoppedWaiting(_ ticket: UInt64) {
        guard target > 0 else { return }
        state.withLockedValue { state in
            guard state.waiting.removeValue(forKey: ticket) != nil else { return }
            state.dropStarted()
        }
    }

    /// Requests admitted and not yet running (for tests and metrics).
    var waitingCount: Int { state.withLockedValue { $0.waiting.count } }
}
