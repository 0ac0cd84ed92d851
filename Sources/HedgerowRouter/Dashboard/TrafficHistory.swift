import Histogram

/// One model's last minutes of traffic as seen by this router, a point per second: what `GET /dashboard` draws
/// without any Prometheus.
///
/// A plain value: time is passed in (monotonic nanoseconds), so tests drive it without a clock. The second being
/// filled keeps an HDR histogram of client-seen latencies (1 µs to 60 s, 2 significant digits); when a later second
/// begins, or a reader asks, it is summed up into a `Point` (three percentiles and four counts) and stored in a ring
/// of `capacity` seconds. Memory is therefore fixed: one histogram and `capacity` points per model, whatever the
/// request rate. Seconds with no traffic read as points with zero counts and no latencies.
public struct TrafficHistory: Sendable {
    public struct Point: Sendable, Equatable {
        /// Monotonic second (`now / 1e9`) the point covers.
        public var second: UInt64
        public var requests = 0
        /// Answers with a 5xx status (including the router's own 503s and 504s).
        public var serverErrors = 0
        /// Answers with a 4xx status.
        public var clientErrors = 0
        public var hedges = 0
        public var hedgeWins = 0
        /// Client-seen latency percentiles in microseconds; nil for a second without requests.
        public var p50Micros: UInt64?
        public var p99Micros: UInt64?
        public var p999Micros: UInt64?

        public init(second: UInt64) {
            self.second = second
        }
    }

    public let capacity: Int
    private var ring: [Point?]
    private var current: Point
    private var latencies: Histogram<UInt32>

    public init(capacity: Int = 300, now: UInt64) {
        precondition(capacity >= 1)
        self.capacity = capacity
        ring = Array(repeating: nil, count: capacity)
        current = Point(second: now / 1_000_000_000)
        latencies = Histogram<UInt32>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .two)
    }

    /// A request answered with `status` after `micros` (as its client saw it).
    public mutating func recordAnswer(status: Int, micros: UInt64, now: UInt64) {
        advance(to: now)
        current.requests += 1
        if status >= 500 { current.serverErrors += 1 } else if status >= 400 { current.clientErrors += 1 }
        latencies.record(min(max(micros, 1), 60_000_000))
    }

    public mutating func recordHedge(now: UInt64) {
        advance(to: now)
        current.hedges += 1
    }

    public mutating func recordHedgeWin(now: UInt64) {
        advance(to: now)
        current.hedgeWins += 1
    }

    /// The finished seconds of the last `capacity` ones before `now`'s, oldest first; every second is present.
    public mutating func points(now: UInt64) -> [Point] {
        advance(to: now)
        let last = current.second
        let first = last >= UInt64(capacity) ? last - UInt64(capacity) : 0
        return (first..<last).map { second in
            if let point = ring[slot(second)], point.second == second { return point }
            return Point(second: second)
        }
    }

    /// Closes the current second when `now` is past it. A clock that steps back is treated as the same second.
    private mutating func advance(to now: UInt64) {
        let second = now / 1_000_000_000
        guard second > current.second else { return }
        if current.requests > 0 {
            current.p50Micros = latencies.valueAtPercentile(50)
            current.p99Micros = latencies.valueAtPercentile(99)
            current.p999Micros = latencies.valueAtPercentile(99.9)
            latencies.reset()
        }
        if current.requests > 0 || current.hedges > 0 || current.hedgeWins > 0 { ring[slot(current.second)] = current }
        current = Point(second: second)
    }

    private func slot(_ second: UInt64) -> Int { Int(second % UInt64(capacity)) }
}
