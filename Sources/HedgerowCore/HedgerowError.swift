/// An error a user can act on: a kind that maps to an HTTP status, and a message that names what was wrong
/// (which model, which input, which line of which file).
public struct HedgerowError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// Malformed request, wrong shape or datatype: 400.
        case badRequest
        /// Missing or wrong admin token: 401.
        case unauthorized
        /// Unknown model, version or label: 404.
        case notFound
        /// Wrong method for a known path: 405.
        case methodNotAllowed
        /// The request clashes with current state (a worker name held by a live worker elsewhere): 409.
        case conflict
        /// Body over the configured limit: 413.
        case payloadTooLarge
        /// The router holds this exact request in quarantine (it took down replicas): 422, so that retrying
        /// clients stop sending it.
        case quarantined
        /// Too many requests in flight: 429.
        case overloaded
        /// Not ready or no replica can answer: 503.
        case unavailable
        /// `Hedgerow-Timeout-Ms` passed: 504.
        case deadlineExceeded
        /// A bug or an environment failure: 500.
        case internalError
        /// A model could not be loaded (file missing, unsupported op): reported in state, 500 if it reaches HTTP.
        case loadFailed
        /// Invalid configuration file or flag.
        case invalidConfiguration
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var httpStatus: Int {
        switch kind {
        case .badRequest, .invalidConfiguration: 400
        case .unauthorized: 401
        case .notFound: 404
        case .methodNotAllowed: 405
        case .conflict: 409
        case .payloadTooLarge: 413
        case .quarantined: 422
        case .overloaded: 429
        case .unavailable: 503
        case .deadlineExceeded: 504
        case .internalError, .loadFailed: 500
        }
    }

    public var description: String { message }
}
