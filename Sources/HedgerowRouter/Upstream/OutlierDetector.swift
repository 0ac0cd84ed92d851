/// Which replicas are taken out of service, as a value: outcomes and probe results in, decisions out, no I/O.
///
/// A replica is ejected after `consecutiveFailures` failures in a row (5xx answers, resets, lost connections),
/// or at once when a connection to it cannot be made. An ejected replica is probed (`/v2/health/ready`) once
/// its ejection period has passed: a healthy answer returns it, anything else ejects it again for twice as
/// long, up to `maxEjection`. Periods start again from `baseEjection` once a replica has stayed in service for
/// `maxEjection`. Slowness is not failure: slow replicas are hedged around and weighted down by `PeakEWMA`.
///
/// Invariant: `usable(_:)` never leaves out more than half of a pool, whatever the ejections, so a fault shared
/// by every replica (a bad model version, a network blip) degrades to plain retries instead of an empty pool.
/// Times are nanoseconds on a monotonic clock.
public struct OutlierDetector: Sendable {
    public struct Settings: Sendable {
        public var consecutiveFailures = 5
        public var baseEjection: UInt64 = 2_000_000_000
        public var maxEjection: UInt64 = 60_000_000_000

        public init() {}
    }

    private struct Health {
        var failuresInARow = 0
        var ejectedUntil: UInt64?
        var ejections = 0
        var returnedAt: UInt64 = 0
    }

    public let settings: Settings
    private var replicas: [String: Health] = [:]

    public init(settings: Settings = .init()) {
        self.settings = settings
    }

    public func isEjected(_ replica: String) -> Bool { replicas[replica]?.ejectedUntil != nil }

    public var ejected: [String] { replicas.filter { $0.value.ejectedUntil != nil }.map(\.key).sorted() }

    public mutating func recordSuccess(_ replica: String) {
        replicas[replica]?.failuresInARow = 0
    }

    /// Records a failed attempt; `connectFailed` when no connection could be made. Returns true when this
    /// failure ejected the replica.
    public mutating func recordFailure(_ replica: String, connectFailed: Bool, now: UInt64) -> Bool {
        var health = replicas[replica] ?? Health()
        defer { replicas[replica] = health }
        guard health.ejectedUntil == nil else { return false }
        health.failuresInARow += 1
        guard connectFailed || health.failuresInARow >= settings.consecutiveFailures else { return false }
        if now >= health.returnedAt + settings.maxEjection { health.ejections = 0 }
        eject(&health, now: now)
        return true
    }

    /// Ejected replicas whose period has passed: the ones to probe now.
    public func dueForProbe(now: UInt64) -> [String] {
        replicas.filter { ($0.value.ejectedUntil ?? .max) <= now }.map(\.key).sorted()
    }

    /// Records a probe's answer: healthy returns the replica to service, anything else ejects it for longer.
    public mutating func recordProbe(_ replica: String, healthy: Bool, now: UInt64) {
        guard var health = replicas[replica], health.ejectedUntil != nil else { return }
        if healthy {
            health.ejectedUntil = nil
            health.failuresInARow = 0
            health.returnedAt = now
        } else {
            eject(&health, now: now)
        }
        replicas[replica] = health
    }

    /// The replicas of `pool` to send to: the pool without its ejected replicas, except that at least half of the
    /// pool (rounded up) stays; when too many are ejected, the ones whose period ends first are kept.
    public func usable(_ pool: [String]) -> [String] {
        let out = pool.filter { replicas[$0]?.ejectedUntil != nil }
        guard !out.isEmpty else { return pool }
        let mayLeave = pool.count / 2
        let leaving = Set(out.sorted { (replicas[$0]?.ejectedUntil ?? 0) > (replicas[$1]?.ejectedUntil ?? 0) }.prefix(mayLeave))
        return pool.filter { !leaving.contains($0) }
    }

    /// Forgets replicas that are in no pool any more.
    public mutating func retain(_ addresses: Set<String>) {
        replicas = replicas.filter { addresses.contains($0.key) }
    }

    public func ejectionPeriod(after ejections: Int) -> UInt64 {
        let doublings = min(max(ejections - 1, 0), 32)
        let period = settings.baseEjection.multipliedReportingOverflow(by: 1 << UInt64(doublings))
        return period.overflow ? settings.maxEjection : min(period.partialValue, settings.maxEjection)
    }

    private func eject(_ health: inout Health, now: UInt64) {
        health.ejections += 1
        health.failuresInARow = 0
        health.ejectedUntil = now + ejectionPeriod(after: health.ejections)
    }
}
