import NIOConcurrencyHelpers

/// Bounds the requests in flight per model, so that an overload is refused at once (503 with `Retry-After`)
/// instead of queueing without bound in the router and timing out later. Requests of other models are not
/// affected: each model has its own count.
final class InFlightLimiter: Sendable {
    let limit: Int
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a slot for `model`; false when the model is at its limit.
    func acquire(_ model: String) -> Bool {
        counts.withLockedValue { counts in
            let n = counts[model] ?? 0
            guard n < limit else { return false }
            counts[model] = n + 1
            return true
        }
    }

    func release(_ model: String) {
        counts.withLockedValue { counts in
            let n = (counts[model] ?? 1) - 1
            counts[model] = n > 0 ? n : nil
        }
    }
}
