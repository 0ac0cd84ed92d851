import NIOConcurrencyHelpers

/// Requests in flight per replica, the load signal for power-of-two-choices.
public final class OutstandingRequests: Sendable {
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    public init() {}

    public func count(_ replica: String) -> Int { counts.withLockedValue { $0[replica] ?? 0 } }

    public func begin(_ replica: String) { counts.withLockedValue { $0[replica, default: 0] += 1 } }

    public func end(_ replica: String) {
        counts.withLockedValue { counts in
            let n = (counts[replica] ?? 1) - 1
            counts[replica] = n > 0 ? n : nil
        }
    }
}
