/// A model's sampled inference log (`logging:` in the desired state, carried to routers in the routing table):
/// which share of requests a router writes down, and under which directory.
///
/// `path` is relative to the router's `--inference-log-dir` and may not climb out of it: a desired-state edit
/// names where a router writes, so it must not be able to name `/etc` or `../../`.
public struct InferenceLogPolicy: Sendable, Equatable, Codable {
    /// 0 to 100; a request is written when a hash of its request id falls in this share, so every router picks
    /// the same requests.
    public var samplePercent: Double
    public var path: String

    public init(samplePercent: Double, path: String = "logs") throws(HedgerowError) {
        guard samplePercent.isFinite, (0...100).contains(samplePercent) else {
            throw HedgerowError(.badRequest, "samplePercent must be from 0 to 100, got \(samplePercent)")
        }
        if let problem = Self.problem(withPath: path) { throw HedgerowError(.badRequest, problem) }
        self.samplePercent = samplePercent
        self.path = path
    }

    enum CodingKeys: String, CodingKey { case samplePercent, path }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let percent = try c.decode(Double.self, forKey: .samplePercent)
        let path = try c.decode(String.self, forKey: .path)
        do { try self.init(samplePercent: percent, path: path) } catch {
            throw DecodingError.dataCorruptedError(forKey: .path, in: c, debugDescription: error.message)
        }
    }

    /// Why `path` cannot be a log directory, or nil: it must be relative, at most 255 bytes, with segments of
    /// `A-Z a-z 0-9 _ . -` that are not `.` or `..`.
    public static func problem(withPath path: String) -> String? {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        guard !trimmed.isEmpty, trimmed.utf8.count <= 255 else { return "path must be 1-255 bytes" }
        guard !trimmed.hasPrefix("/") else { return "path '\(trimmed.prefix(255))' must be relative (to the router's --inference-log-dir)" }
        for segment in trimmed.split(separator: "/", omittingEmptySubsequences: false) {
            guard !segment.isEmpty, segment != ".", segment != "..",
                  segment.utf8.allSatisfy({ ModelName.isAllowedByte($0) }) else {
                return "path '\(trimmed.prefix(255))' may hold only segments of A-Z a-z 0-9 _ . - (no '..', no empty segment)"
            }
        }
        return nil
    }

    /// The path without a trailing slash.
    public var directory: String { path.hasSuffix("/") ? String(path.dropLast()) : path }
}
