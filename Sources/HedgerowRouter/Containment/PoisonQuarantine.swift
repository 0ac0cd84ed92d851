/// Requests suspected of killing replicas (queries of death), refused for a while without reaching a worker,
/// and the requests known to be harmless because a replica answered them recently.
///
/// A request is suspected when two of its attempts lost their connection after it was sent (see
/// `HedgedCallStateMachine`). A request that some replica answered (any status) within `harmlessMemory`
/// cannot be what kills replicas, so it is never quarantined: that keeps identical good requests that happened
/// to be in flight on the same two dying replicas from being refused. Both tables are bounded; all times are
/// monotonic nanoseconds passed in by the caller, so this value is tested without a clock.
public struct PoisonQuarantine: Sendable {
    public struct Settings: Sendable {
        /// How long a suspected request is refused; 0 turns the quarantine off (a second loss still fails).
        public var duration: UInt64 = 60_000_000_000
        /// Most requests held in quarantine; the soonest to expire makes room for a new one.
        var capacity = 1024
        /// How long an answered request counts as harmless.
        var harmlessMemory: UInt64 = 60_000_000_000
        /// Answered requests remembered per generation (two generations are kept: at most twice this many).
        var harmlessCapacity = 16_384

        public init() {}
    }

    let settings: Settings
    private var until: [RequestFingerprint: UInt64] = [:]
    /// Answered requests, in two generations: when `current` fills, it becomes `previous` and the old
    /// `previous` is forgotten. O(1) per request and bounded, at the price of forgetting early under a flood of
    /// distinct bodies (then an innocent request may be quarantined, never a poison one let through).
    private var current: [RequestFingerprint: UInt64] = [:]
    private var previous: [RequestFingerprint: UInt64] = [:]

    init(settings: Settings = .init()) {
        self.settings = settings
    }

    var isEmpty: Bool { until.isEmpty }

    /// A replica answered this request: it is harmless.
    mutating func recordAnswered(_ fingerprint: RequestFingerprint, now: UInt64) {
        if current.count >= settings.harmlessCapacity {
            previous = current
            current.removeAll(keepingCapacity: true)
        }
        current[fingerprint] = now
    }

    func isKnownHarmless(_ fingerprint: RequestFingerprint, now: UInt64) -> Bool {
        guard let at = current[fingerprint] ?? previous[fingerprint] else { return false }
        // Another event loop may have recorded an answer after the caller read its clock: that is recent too.
        return at >= now || now - at <= settings.harmlessMemory
    }

    /// Quarantines a suspected request unless it is known harmless; true if it is now quarantined.
    mutating func quarantine(_ fingerprint: RequestFingerprint, now: UInt64) -> Bool {
        guard settings.duration > 0, !isKnownHarmless(fingerprint, now: now) else { return false }
        if until.count >= settings.capacity && until[fingerprint] == nil {
            until = until.filter { $0.value > now }
            if until.count >= settings.capacity, let soonest = until.min(by: { $0.value < $1.value })?.key {
                until[soonest] = nil
            }
        }
        let (end, overflow) = now.addingReportingOverflow(settings.duration)
        until[fingerprint] = overflow ? .max : end
        return true
    }

    /// Nanoseconds of quarantine left for this request, nil if it may be sent. (Expired entries linger until
    /// the table is full; they only cost a dictionary lookup.)
    func remaining(_ fingerprint: RequestFingerprint, now: UInt64) -> UInt64? {
        guard let end = until[fingerprint], end > now else { return nil }
        return end - now
    }
}
