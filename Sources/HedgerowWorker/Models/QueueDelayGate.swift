import NIOConcurrencyHelpers

/// Admission control for a worker's inference threads, on queueing delay (as CoDel judges a queue by how long its
/// items wait, not by how many there are): the right bound whatever a model costs.
///
/// Every inference request waits in the thread pool's queue before a thread decodes it. When the last request to
/// start had waited more than `target`, the worker is past its capacity: new requests are refused at once with
/// 503 and Retry-After (cheap: nothing decoded, nothing queued), and a request that has waited more than twice the
/// target by the time a thread takes it is refused instead of run (a burst's tail). Admitted requests therefore
/// wait at most about twice the target, the queue's length is bounded by the arrival rate times that, and the
/// threads never idle while work waits, so goodput stays at capacity while the excess is shed.
final class QueueDelayGate: Sendable {
    /// Nanoseconds; 0 turns admission control off.
    let target: Int64
    /// How long the last request to reach a thread had waited, nanoseconds.
    private let lastWait = NIOLockedValueBox<Int64>(0)

    init(targetNanoseconds: Int64) {
        self.target = max(0, targetNanoseconds)
    }

    /// Whether a new request may queue.
    func admit() -> Bool {
        target == 0 || lastWait.withLockedValue { $0 } <= target
    }

    /// A thread took a request that waited `waited` nanoseconds; false if it must be refused instead of run.
    func started(waited: Int64) -> Bool {
        guard target > 0 else { return true }
        lastWait.withLockedValue { $0 = waited }
        return waited <= 2 * target
    }
}
