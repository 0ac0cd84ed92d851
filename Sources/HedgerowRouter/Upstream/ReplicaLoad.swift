/// What one router knows about the work it gave one replica, as a value: attempts in flight with their start
/// times, attempts it abandoned that the replica may still hold, and the peak-EWMA latency. It yields the
/// replica's balancing cost. Times are nanoseconds on a monotonic clock; no I/O, no lock.
///
/// Two rules keep a stalled replica from looking cheap:
/// - **Outstanding work is counted by its age.** The latency the cost uses is the larger of the peak-EWMA
///   estimate and the age of the oldest request the replica holds, so a replica that stops answering grows more
///   expensive while the stall lasts, not only after it ends.
/// - **An abandoned attempt is not an answer.** When a hedge wins, the deadline passes or the client leaves, the
///   router resets the losing stream, but the replica may still hold the request (a frozen process reads the
///   reset only when it thaws). Such an attempt stays outstanding, still ageing, until the replica shows it is
///   responsive again: it answers a liveness probe sent after the abandonment. The attempt's latency is then
///   known to be about the time until that answer, and peak-EWMA learns it. A replica that was merely slow on
///   one request answers the probe at once, so it is charged little more than the hedge delay; one that was
///   frozen is charged the length of the stall, which is what keeps primaries off it afterwards.
public struct ReplicaLoad: Sendable {
    public typealias Token = UInt64

    private var inFlight: [Token: UInt64] = [:]
    /// Abandoned attempts: when each started and when it was abandoned.
    private var abandoned: [Token: (started: UInt64, at: UInt64)] = [:]
    /// When the liveness probe now in flight was sent.
    private var probeSentAt: UInt64?
    public private(set) var latency: PeakEWMA

    public init(latency: PeakEWMA = PeakEWMA()) {
        self.latency = latency
    }

    /// Requests the replica holds as far as this router knows: in flight plus abandoned and not yet settled.
    public var outstanding: Int { inFlight.count + abandoned.count }

    public var isIdle: Bool { outstanding == 0 && probeSentAt == nil }

    public mutating func started(_ token: Token, now: UInt64) {
        inFlight[token] = now
    }

    /// The attempt ended with an answer or a failure after `nanos`.
    public mutating func ended(_ token: Token, nanos: Int64, now: UInt64) {
        guard inFlight.removeValue(forKey: token) != nil else { return }
        latency.observe(nanos: Double(max(nanos, 0)), now: now)
    }

    /// The router gave up on the attempt without an answer. Returns true when a liveness probe should be sent
    /// now (none is in flight); the caller then calls `probeSent` and, when the probe ends, `probeEnded`.
    public mutating func abandon(_ token: Token, now: UInt64) -> Bool {
        guard let started = inFlight.removeValue(forKey: token) else { return false }
        // What is known already: it took at least this long.
        latency.observe(nanos: Double(now >= started ? now - started : 0), now: now)
        abandoned[token] = (started, now)
        return probeSentAt == nil
    }

    public mutating func probeSent(now: UInt64) {
        probeSentAt = now
    }

    /// The probe sent at `probeSent` came back (answered, failed or timed out: either way the replica can have
    /// held an abandoned request no longer than until now). Settles every attempt abandoned before the probe was
    /// sent, charging peak-EWMA the longest of their lifetimes. Returns true when attempts abandoned after the
    /// probe was sent remain: the caller sends another probe for them.
    public mutating func probeEnded(now: UInt64) -> Bool {
        guard let sentAt = probeSentAt else { return false }
        probeSentAt = nil
        var longest: UInt64?
        for (token, attempt) in abandoned where attempt.at <= sentAt {
            abandoned[token] = nil
            let lived = now >= attempt.started ? now - attempt.started : 0
            longest = max(longest ?? 0, lived)
        }
        if let longest { latency.observe(nanos: Double(longest), now: now) }
        return !abandoned.isEmpty
    }

    /// Age of the oldest request the replica holds, in nanoseconds; 0 when it holds none.
    public func oldestAge(now: UInt64) -> UInt64 {
        // Lazily: this runs for every candidate of every request, and must not build an array each time.
        let oldest = min(inFlight.values.min() ?? .max, abandoned.values.lazy.map(\.started).min() ?? .max)
        return oldest == .max || now < oldest ? 0 : now - oldest
    }

    /// The balancing cost: latency times (outstanding + 1), where latency is the larger of the peak-EWMA estimate
    /// and the age of the oldest outstanding request. A replica with no sample yet costs nothing while idle (so
    /// new replicas are tried) and more than any measured one while busy (one request at a time until it answers).
    public func cost(now: UInt64) -> Double {
        let age = Double(oldestAge(now: now))
        guard let estimate = latency.estimate(now: now) else { return outstanding == 0 ? 0 : Double.greatestFiniteMagnitude }
        return max(estimate, age) * Double(outstanding + 1)
    }
}
