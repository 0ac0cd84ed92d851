/// How long `hedgerow up` waits before restarting a role that died: 0.5 s, doubling on each crash in a row up to
/// 30 s, so a role that dies at once (a bad flag, a port taken) does not spin the CPU, while one that ran fine for
/// a minute before it died is restarted at once again. The role never stays down for good: a supervisor that gives
/// up turns one crash into an outage.
struct RestartBackoff: Sendable {
    var initial = 0.5
    var maximum = 30.0
    /// A run at least this long (seconds) counts as healthy: the next crash starts the backoff over.
    var healthyRun = 60.0
    private(set) var restarts = 0
    private var next: Double?

    /// Seconds to wait before restarting a role whose last run lasted `uptime` seconds.
    mutating func delay(afterRunning uptime: Double) -> Double {
        restarts += 1
        let current = (uptime >= healthyRun ? nil : next) ?? initial
        next = min(current * 2, maximum)
        return current
    }
}
