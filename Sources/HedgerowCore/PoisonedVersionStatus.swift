/// A model version the synchronizer keeps off every worker because loading it took a worker down (see
/// `GET /v1/state`, `hedgerow status`). It is placed again once its files change or the user clears it.
public struct PoisonedVersionStatus: Sendable, Codable, Equatable {
    public var model: String
    public var version: Int
    public var worker: String
    public var reason: String
    /// ISO 8601.
    public var since: String
    /// How the worker died, as its supervisor reported (exit status, last log lines), when one did.
    public var crashReport: String?

    public init(model: String, version: Int, worker: String, reason: String, since: String, crashReport: String?) {
        self.model = model
        self.version = version
        self.worker = worker
        self.reason = reason
        self.since = since
        self.crashReport = crashReport
    }
}
