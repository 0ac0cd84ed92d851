import Foundation

/// Running totals of a mirrored canary: what one router counted, or the sum over every router (the synchronizer
/// adds up the routers' reports). The abort decision (`verdict`) is made on these alone, so a router and the
/// synchronizer judge the same numbers the same way.
///
/// A *sample* is a mirrored request whose stable answer was 2xx and whose candidate answered: compared, failed
/// (a non-2xx other than shedding) or incomparable (other outputs or shapes). Mirrors the candidate could not take
/// (shed by the router or a busy worker, or past the mirror's deadline) are counted apart and are no samples:
/// they say the fleet was busy, not that the candidate answers differently.
public struct CanaryTally: Sendable, Equatable, Codable {
    /// Mirrors sent to the candidate.
    public var mirrored = 0
    /// Mirrors not sent (the model's in-flight bound, or the router's comparison queue, was full).
    public var shed = 0
    /// Mirrors that got no answer in time, or that a busy worker shed.
    public var timedOut = 0
    /// Samples whose answers were compared output by output.
    public var compared = 0
    /// Samples where the candidate answered an error status or could not be reached.
    public var candidateErrors = 0
    /// Samples whose answers had different outputs or shapes.
    public var incomparable = 0
    /// Rows of class-score outputs compared, and those whose top-1 class differed.
    public var rows = 0
    public var top1Disagreements = 0
    /// Output elements compared, and those out of tolerance.
    public var elements = 0
    public var outOfTolerance = 0
    /// The largest absolute difference of any element seen.
    public var maxAbsDifference = 0.0

    public init() {}

    public var samples: Int { compared + candidateErrors + incomparable }

    public var top1DisagreePercent: Double { rows > 0 ? 100 * Double(top1Disagreements) / Double(rows) : 0 }
    public var outOfTolerancePercent: Double { elements > 0 ? 100 * Double(outOfTolerance) / Double(elements) : 0 }
    public var errorPercent: Double { samples > 0 ? 100 * Double(candidateErrors + incomparable) / Double(samples) : 0 }

    /// Adds another tally (another router's); counts saturate rather than trap on a hostile report.
    public mutating func add(_ other: CanaryTally) {
        func plus(_ a: inout Int, _ b: Int) { a = a.addingReportingOverflow(max(b, 0)).overflow ? .max : a + max(b, 0) }
        plus(&mirrored, other.mirrored)
        plus(&shed, other.shed)
        plus(&timedOut, other.timedOut)
        plus(&compared, other.compared)
        plus(&candidateErrors, other.candidateErrors)
        plus(&incomparable, other.incomparable)
        plus(&rows, other.rows)
        plus(&top1Disagreements, other.top1Disagreements)
        plus(&elements, other.elements)
        plus(&outOfTolerance, other.outOfTolerance)
        if other.maxAbsDifference.isFinite { maxAbsDifference = max(maxAbsDifference, other.maxAbsDifference) }
    }

    /// Why the canary must be aborted, or nil while it is healthy or has fewer than `minSamples` samples.
    /// Thresholds are strict ("more than 1 %"), so a candidate that agrees on every sample is never aborted
    /// whatever the thresholds, and 0 means "any at all".
    public func verdict(_ thresholds: CanaryPolicy.AbortThresholds) -> String? {
        guard samples >= thresholds.minSamples else { return nil }
        func percent(_ value: Double) -> String { value >= 10 ? String(format: "%.1f", value) : String(format: "%.2f", value) }
        if errorPercent > thresholds.maxErrorPercent {
            return "\(percent(errorPercent))% of \(samples) mirrored requests failed or were incomparable on the candidate "
                + "(\(candidateErrors) errors, \(incomparable) incomparable; limit \(thresholds.maxErrorPercent)%)"
        }
        if top1DisagreePercent > thresholds.maxTop1DisagreePercent {
            return "top-1 class disagreed on \(percent(top1DisagreePercent))% of \(rows) rows over \(samples) mirrored requests "
                + "(limit \(thresholds.maxTop1DisagreePercent)%)"
        }
        if outOfTolerancePercent > thresholds.maxOutOfTolerancePercent {
            return "\(percent(outOfTolerancePercent))% of \(elements) output elements were out of tolerance over \(samples) mirrored requests "
                + "(limit \(thresholds.maxOutOfTolerancePercent)%; max |Δ| \(maxAbsDifference))"
        }
        return nil
    }
}

/// What one router reports to the synchronizer (`POST /v1/canary/reports`): its running totals per canary, keyed by
/// the canary's identity so that totals of an edited canary never mix with the new one's.
public struct CanaryReport: Sendable, Equatable, Codable {
    public struct Entry: Sendable, Equatable, Codable {
        public var model: String
        public var candidate: Int
        /// `CanaryPolicy.identity` of the block these totals were counted under.
        public var identity: String
        public var tally: CanaryTally
        /// The router stopped mirroring on its own totals, and why (the synchronizer then latches the abort).
        public var aborted: String?
        public init(model: String, candidate: Int, identity: String, tally: CanaryTally, aborted: String?) {
            self.model = model
            self.candidate = candidate
            self.identity = identity
            self.tally = tally
            self.aborted = aborted
        }
    }

    /// The reporting router process, unique per run (a restarted router reports under a new id).
    public var router: String
    public var canaries: [Entry]

    public init(router: String, canaries: [Entry]) {
        self.router = router
        self.canaries = canaries
    }

    public static let maxEntries = 10_000
}

/// A canary as the synchronizer reports it in `/v1/state` and `hedgerow status`.
public struct CanaryStatus: Sendable, Equatable, Codable {
    public var model: String
    public var candidate: Int
    public var mirrorPercent: Double
    public var splitPercent: Double
    /// `running` or `aborted`.
    public var state: String
    public var reason: String?
    public var tally: CanaryTally
    /// Routers whose reports are summed in `tally`.
    public var routers: Int
    public init(model: String, candidate: Int, mirrorPercent: Double, splitPercent: Double, state: String, reason: String?, tally: CanaryTally, routers: Int) {
        self.model = model
        self.candidate = candidate
        self.mirrorPercent = mirrorPercent
        self.splitPercent = splitPercent
        self.state = state
        self.reason = reason
        self.tally = tally
        self.routers = routers
    }
}
