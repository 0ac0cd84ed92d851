import NIOConcurrencyHelpers

/// A token bucket that holds backup attempts to a share of the request rate: each request deposits
/// `percent / 100` of a token, each backup withdraws one. So over any stretch, backups ≤ percent% of requests
/// (plus the small burst `capacity` allows), and hedging can never multiply an overload.
public final class HedgeBudget: Sendable {
    private let tokens: NIOLockedValueBox<Double>
    private let capacity: Double

    public init(capacity: Double = 10) {
        self.capacity = capacity
        self.tokens = NIOLockedValueBox(0)
    }

    public func deposit(percent: Double) {
        tokens.withLockedValue { $0 = min(capacity, $0 + percent / 100) }
    }

    /// Takes one token if there is one.
    public func withdraw() -> Bool {
        tokens.withLockedValue { tokens in
            guard tokens >= 1 else { return false }
            tokens -= 1
            return true
        }
    }
}
