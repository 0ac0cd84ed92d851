/// A model's canary, as the desired state gives it (`canary:`) and the routing table carries it: requests that
/// name no version are answered by `version` instead of the stable one for `splitPercent` of request ids.
///
/// The share is chosen by a hash of the request id (`x-request-id`, else one the router makes up), so a client's
/// retry, and every router, send the same request to the same version. Requests naming a version or a label go
/// where they say. Mirroring (a copy of stable's requests to the candidate, compared and never returned) is not
/// built yet: the desired state refuses `mirrorPercent` above 0 with that reason.
public struct CanarySplit: Sendable, Equatable, Codable {
    public var version: Int
    public var splitPercent: Double

    public init(version: Int, splitPercent: Double) throws(HedgerowError) {
        guard DesiredState.Limits.version.contains(version) else {
            throw HedgerowError(.badRequest, "canary version must be within \(DesiredState.Limits.version), got \(version)")
        }
        guard splitPercent.isFinite, (0...100).contains(splitPercent) else {
            throw HedgerowError(.badRequest, "splitPercent must be from 0 to 100, got \(splitPercent)")
        }
        self.version = version
        self.splitPercent = splitPercent
    }

    enum CodingKeys: String, CodingKey { case version, splitPercent }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let version = try c.decode(Int.self, forKey: .version)
        let percent = try c.decode(Double.self, forKey: .splitPercent)
        do { try self.init(version: version, splitPercent: percent) } catch {
            throw DecodingError.dataCorruptedError(forKey: .splitPercent, in: c, debugDescription: error.message)
        }
    }

    /// Whether the request with this id goes to the canary.
    public func takes(requestId: String) -> Bool {
        RequestIdBucket.isWithin(splitPercent, requestId: requestId, salt: "canary")
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
