/// Why an upstream HTTP/2 call produced no response.
///
/// Two questions matter to a caller that may try another replica: was it a transport failure (`isSafeToRetry`:
/// no answer came, so another replica may serve it), and could the request have reached the peer
/// (`mayHaveReachedPeer`)? A request that never reached the peer is free to retry anywhere. One that did, and
/// whose connection then died, may be what killed the peer (a query of death): a router retries it at most once.
public enum HTTP2ClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// TCP connect failed (refused, unreachable, timed out).
    case connectFailed(address: String, reason: String)
    /// The stream never carried the request: it could not be opened, or the peer refused it (RST_STREAM
    /// REFUSED_STREAM, or GOAWAY naming a last stream below it), which HTTP/2 defines as "not processed".
    case streamRefused(address: String, reason: String)
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
        case .connectFailed, .streamRefused, .connectionLost, .streamReset: true
        case .cancelled, .timedOut: false
        }
    }

    /// False only when the peer cannot have seen the request (connect failed, stream refused or never opened).
    public var mayHaveReachedPeer: Bool {
        switch self {
        case .connectFailed, .streamRefused: false
        case .connectionLost, .streamReset, .cancelled, .timedOut: true
        }
    }

    /// A short label for metrics (`reason` of retries).
    public var reason: String {
        switch self {
        case .connectFailed: "connect"
        case .streamRefused: "refused"
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
        case .streamRefused(let address, let reason): "\(address) refused the request before processing it: \(reason)"
        case .streamReset(let address, let reason): "\(address) reset the request: \(reason)"
        case .cancelled: "request cancelled"
        case .timedOut(let address): "\(address) did not answer in time"
        }
    }
}
