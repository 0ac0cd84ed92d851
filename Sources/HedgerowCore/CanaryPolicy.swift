/// A model's canary, as the desired state gives it (`canary:`) and the routing table carries it.
///
/// - Split: requests that name no version are answered by `version` instead of the stable one for `splitPercent`
///   of request ids.
/// - Mirror: `mirrorPercent` of the requests stable answers are also sent to `version` as a shadow; its answer is
///   compared with stable's (`compare`) and never returned. A mirror is one attempt with its own deadline
///   (`mirrorTimeoutMs`): never hedged, retried or paid from a budget.
/// - Abort: once `abort.minSamples` comparisons are in and a threshold is crossed, the synchronizer sets `aborted`
///   (latched until the `canary` block is edited) and routers send the candidate nothing more; nothing is unloaded.
///
/// Shares are chosen by a hash of the request id (`x-request-id`, else one the router makes up), so that a client's
/// retry, and every router, treat the same request alike. Requests naming a version or a label go where they say.
public struct CanaryPolicy: Sendable, Equatable, Codable {
    /// Per-element agreement of float outputs: `|candidate − stable| ≤ atol + rtol·|stable|`.
    public struct Tolerance: Sendable, Equatable, Codable {
        public var atol: Double
        public var rtol: Double
        public init(atol: Double = 1e-4, rtol: Double = 1e-3) {
            self.atol = atol
            self.rtol = rtol
        }
    }

    /// When a candidate is judged bad. Percentages are of what was compared (see `CanaryTally.verdict`).
    public struct AbortThresholds: Sendable, Equatable, Codable {
        public var minSamples: Int
        public var maxTop1DisagreePercent: Double
        public var maxOutOfTolerancePercent: Double
        public var maxErrorPercent: Double
        public init(minSamples: Int = 200, maxTop1DisagreePercent: Double = 1, maxOutOfTolerancePercent: Double = 5, maxErrorPercent: Double = 1) {
            self.minSamples = minSamples
            self.maxTop1DisagreePercent = maxTop1DisagreePercent
            self.maxOutOfTolerancePercent = maxOutOfTolerancePercent
            self.maxErrorPercent = maxErrorPercent
        }
    }

    public static let defaultMirrorTimeoutMs = 1_000
    public static let minSamplesRange = 1...10_000_000

    public var version: Int
    public var splitPercent: Double
    public var mirrorPercent: Double
    public var mirrorTimeoutMs: Int
    public var compare: Tolerance
    public var abort: AbortThresholds
    /// Why the canary was aborted, set by the synchronizer: routers then send the candidate nothing.
    public var aborted: String?

    public init(
        version: Int, splitPercent: Double, mirrorPercent: Double = 0, mirrorTimeoutMs: Int = defaultMirrorTimeoutMs,
        compare: Tolerance = .init(), abort: AbortThresholds = .init(), aborted: String? = nil
    ) throws(HedgerowError) {
        guard DesiredState.Limits.version.contains(version) else {
            throw HedgerowError(.badRequest, "canary version must be within \(DesiredState.Limits.version), got \(version)")
        }
        for (name, percent) in [("splitPercent", splitPercent), ("mirrorPercent", mirrorPercent), ("abort.maxTop1DisagreePercent", abort.maxTop1DisagreePercent),
                                ("abort.maxOutOfTolerancePercent", abort.maxOutOfTolerancePercent), ("abort.maxErrorPercent", abort.maxErrorPercent)] {
            guard percent.isFinite, (0...100).contains(percent) else {
                throw HedgerowError(.badRequest, "\(name) must be from 0 to 100, got \(percent)")
            }
        }
        guard (1...DesiredState.Limits.milliseconds.upperBound).contains(mirrorTimeoutMs) else {
            throw HedgerowError(.badRequest, "mirrorTimeoutMs must be from 1 to \(DesiredState.Limits.milliseconds.upperBound), got \(mirrorTimeoutMs)")
        }
        for (name, value) in [("compare.atol", compare.atol), ("compare.rtol", compare.rtol)] {
            guard value.isFinite, value >= 0 else { throw HedgerowError(.badRequest, "\(name) must be a finite number ≥ 0, got \(value)") }
        }
        guard Self.minSamplesRange.contains(abort.minSamples) else {
            throw HedgerowError(.badRequest, "abort.minSamples must be within \(Self.minSamplesRange), got \(abort.minSamples)")
        }
        if let aborted, aborted.utf8.count > 4096 { throw HedgerowError(.badRequest, "an abort reason is at most 4096 bytes") }
        self.version = version
        self.splitPercent = splitPercent
        self.mirrorPercent = mirrorPercent
        self.mirrorTimeoutMs = mirrorTimeoutMs
        self.compare = compare
        self.abort = abort
        self.aborted = aborted
    }

    enum CodingKeys: String, CodingKey { case version, splitPercent, mirrorPercent, mirrorTimeoutMs, compare, abort, aborted }

    /// Decodes and checks like `init`; fields added after the split (mirror, compare, abort) take their defaults
    /// when a table from an older synchronizer leaves them out.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(
                version: try c.decode(Int.self, forKey: .version),
                splitPercent: try c.decode(Double.self, forKey: .splitPercent),
                mirrorPercent: try c.decodeIfPresent(Double.self, forKey: .mirrorPercent) ?? 0,
                mirrorTimeoutMs: try c.decodeIfPresent(Int.self, forKey: .mirrorTimeoutMs) ?? Self.defaultMirrorTimeoutMs,
                compare: try c.decodeIfPresent(Tolerance.self, forKey: .compare) ?? .init(),
                abort: try c.decodeIfPresent(AbortThresholds.self, forKey: .abort) ?? .init(),
                aborted: try c.decodeIfPresent(String.self, forKey: .aborted)
            )
        } catch let error as HedgerowError {
            throw DecodingError.dataCorruptedError(forKey: .version, in: c, debugDescription: error.message)
        }
    }

    /// The canary block as the user wrote it, without the synchronizer's verdict: what an abort is latched to (an
    /// edit of any field starts a new canary) and what routers key their running totals by.
    public var identity: String {
        "v\(version) split \(splitPercent) mirror \(mirrorPercent) timeout \(mirrorTimeoutMs) atol \(compare.atol) rtol \(compare.rtol) "
            + "min \(abort.minSamples) top1 \(abort.maxTop1DisagreePercent) tol \(abort.maxOutOfTolerancePercent) err \(abort.maxErrorPercent)"
    }

    /// Whether the request with this id is answered by the canary (never once aborted).
    public func takes(requestId: String) -> Bool {
        aborted == nil && RequestIdBucket.isWithin(splitPercent, requestId: requestId, salt: "canary")
    }

    /// Whether a request stable answers with this id is also mirrored to the canary (never once aborted).
    public func mirrors(requestId: String) -> Bool {
        aborted == nil && RequestIdBucket.isWithin(mirrorPercent, requestId: requestId, salt: "mirror")
    }
}

/// A request id's place in 0..<100,000,000, the same on every router: FNV-1a 64 of the salt and the id, folded.
/// Each use salts it differently, so that choices made on the same ids are independent (the 1 % of requests an
/// inference log samples must not all be the canary's 30 %).
public enum RequestIdBucket {
    public static let count: UInt64 = 100_000_000

    /// Whether the id's bucket falls in the first `percent` % of them: 0 takes none, 100 takes all.
    public static func isWithin(_ percent: Double, requestId: String, salt: String) -> Bool {
        guard percent > 0 else { return false }
        guard percent < 100 else { return true }
        return Double(of(requestId, salt: salt)) < percent * Double(count / 100)
    }

    public static func of(_ requestId: String, salt: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in salt.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x100_0000_01b3
        }
        h ^= 0xff
        h = h &* 0x100_0000_01b3
        for byte in requestId.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x100_0000_01b3
        }
        // The low bits of FNV-1a mix poorly for short inputs; fold the high half in.
        h ^= h >> 32
        return h % count
    }
}
