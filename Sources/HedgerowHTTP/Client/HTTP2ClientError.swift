/// Why an upstream HTTP/2 call produced no response. `isSafeToRetry` marks failures where the peer cannot
/// have started work on the request, so another replica may be tried at once.
public enum HTTP2ClientError: Error, Sendable, CustomStringConvertible {
    /// TCP connect failed (refused, unreachable, timed out).
    case connectFailed(address: String, reason: String)
    /// The connection closed or was reset before the response ended.
    case connectionLost(address: String)
    /// The peer reset the stream (RST_STREAM) or sent GOAWAY covering it before answering.
    case streamReset(address: String, reason: String)
    /// The caller cancelled the call (a hedge lost, the client went away).
    case cancelled
    /// No complete response within the call's timeout.
    case timedOut(address: String)

    public var isSafeToRetry: Bool {
        switch self {
        case .connectFailed, .connectionLost, .streamReset: true
        case .cancelled, .timedOut: false
        }
    }

    /// A short label for metrics (`reason` of retries).
    public var reason: String {
        switch self {
        case .connectFailed: "connect"
        case .connectionLost: "connection_lost"
        case .streamReset: "reset"
        case .cancelled: "cancelled"
        case .timedOut: "timeout"
        }
    }

    public var description: String {
        switch self {
        case .connectFailed(let address, let reason): "cannot connect to \(address): \(reason)"
        case .connectionLost(let address): "connection to \(address) was lost before the response ended"
        case .streamReset(let address, let reason): "\(address) reset the request: \(reason)"
        case .cancelled: "request cancelled"
        case .timedOut(let address): "\(address) did not answer in time"
        }
    }
}
