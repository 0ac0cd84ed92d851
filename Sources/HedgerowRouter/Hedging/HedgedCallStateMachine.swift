/// The decisions of one client request fanned out over replicas, as a value: events in, actions out, no I/O.
///
/// Rules: the primary goes to the first candidate. When the hedge timer fires and the budget allows, a backup
/// goes to the next untried candidate (never a replica already tried), with at most `maxAttempts` in flight.
/// A failed attempt is retried at once on the next untried candidate: after a connection failure (refused, lost,
/// reset or GOAWAY before the answer) always, because the request did not get served and the failed replica adds
/// no load; after a 503 only if the budget allows, because a 503 is the overload signal and retrying it adds
/// load to a busy pool. The first other response wins and is returned as is (4xx included: they are the
/// client's to see); every other attempt is cancelled. When no attempt is in flight and no candidate is left,
/// the call fails with the last error.
struct HedgedCallStateMachine<Response> {
    enum AttemptKind: String { case primary, hedge, retry }

    enum Outcome {
        case response(Response)
        /// The connection failed before an answer; another replica is tried without asking the budget.
        case connectionFailed(String)
        /// The replica answered 503 (overloaded, or the version is not loaded there); another replica is tried
        /// if the budget allows.
        case overloaded(String)
        /// Failed in a way that must not be retried (we cannot tell whether it ran).
        case fatal(String)
    }

    enum Action {
        case start(attempt: Int, replica: String, kind: AttemptKind)
        /// `response` won; cancel `losers`.
        case finish(Response, winner: Int, losers: [Int])
        case fail(String, cancel: [Int])
        case none
    }

    private let candidates: [String]
    private let maxAttempts: Int
    private var nextCandidate = 0
    private var inFlight: [Int: String] = [:]
    private var attemptsStarted = 0
    private var finished = false
    private var lastError = "no replica answered"

    init(candidates: [String], maxAttempts: Int = 2) {
        self.candidates = candidates
        self.maxAttempts = max(1, maxAttempts)
    }

    var isFinished: Bool { finished }

    mutating func start() -> Action {
        startNext(kind: .primary) ?? fail()
    }

    /// The hedge delay passed. `budgetAllows` is asked only when a backup could actually be sent.
    mutating func hedgeTimerFired(budgetAllows: () -> Bool) -> Action {
        guard !finished, inFlight.count < maxAttempts, nextCandidate < candidates.count, budgetAllows() else { return .none }
        return startNext(kind: .hedge) ?? .none
    }

    /// An attempt ended. `budgetAllows` is asked only when a 503 could actually be retried.
    mutating func attemptFinished(_ attempt: Int, _ outcome: Outcome, budgetAllows: () -> Bool = { true }) -> Action {
        guard !finished, inFlight.removeValue(forKey: attempt) != nil else { return .none }
        switch outcome {
        case .response(let response):
            finished = true
            let losers = Array(inFlight.keys).sorted()
            inFlight.removeAll()
            return .finish(response, winner: attempt, losers: losers)
        case .connectionFailed(let message):
            lastError = message
            if let retry = startNext(kind: .retry) { return retry }
            return inFlight.isEmpty ? fail() : .none
        case .overloaded(let message):
            lastError = message
            if nextCandidate < candidates.count, budgetAllows(), let retry = startNext(kind: .retry) { return retry }
            return inFlight.isEmpty ? fail() : .none
        case .fatal(let message):
            lastError = message
            return inFlight.isEmpty ? fail() : .none
        }
    }

    /// The deadline passed: give up and cancel everything in flight.
    mutating func deadlineExpired() -> Action {
        guard !finished else { return .none }
        lastError = "deadline exceeded"
        return fail()
    }

    /// The client went away.
    mutating func clientCancelled() -> Action {
        guard !finished else { return .none }
        lastError = "cancelled by the client"
        return fail()
    }

    private mutating func startNext(kind: AttemptKind) -> Action? {
        guard nextCandidate < candidates.count else { return nil }
        let replica = candidates[nextCandidate]
        nextCandidate += 1
        attemptsStarted += 1
        let attempt = attemptsStarted
        inFlight[attempt] = replica
        return .start(attempt: attempt, replica: replica, kind: kind)
    }

    private mutating func fail() -> Action {
        finished = true
        let cancel = Array(inFlight.keys).sorted()
        inFlight.removeAll()
        return .fail(lastError, cancel: cancel)
    }
}
