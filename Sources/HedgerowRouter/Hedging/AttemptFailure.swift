import HedgerowHTTP

/// Why one attempt gave no answer the client should see, as a value: `HedgedCall` classifies every failure into
/// one of these, the state machine decides on which `Outcome` carries it, and tests compare values, never messages.
enum AttemptFailure: Equatable, Sendable, CustomStringConvertible {
    /// The transport failed: connect, refused stream, lost connection, reset, timeout.
    case transport(HTTP2ClientError)
    /// The replica answered 503: it is overloaded or shedding.
    case overloaded(replica: String, detail: String)
    /// The replica answered 404 for the version the route pinned: the route is stale (a restarted worker not yet
    /// given its models again); nothing ran.
    case notServedHere(replica: String, detail: String)
    /// Anything else that went wrong in the router (not retried).
    case unexpected(String)

    var description: String {
        switch self {
        case .transport(let error): error.description
        case .overloaded(let replica, let detail): "\(replica) answered 503: \(detail)"
        case .notServedHere(let replica, let detail): "\(replica) does not hold it: \(detail)"
        case .unexpected(let detail): detail
        }
    }
}
