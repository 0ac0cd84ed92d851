/// The decisions of one client request fanned out over replicas, as a value: events in, actions out, no I/O.
///
/// Rules: the primary goes to the first candidate. When the hedge timer fires and the budget allows, a backup
/// goes to the next untried candidate (never a replica already tried), with at most `maxAttempts` in flight.
/// A failed attempt is retried at once on the next untried candidate:
/// - after a failure that cannot have reached the replica (connect refused, stream refused) always and for free:
///   the request was not served and the failed replica adds no load;
/// - after a connection that died (or a stream reset) *after the request was sent*, at most once per request:
///   the request may be what killed the replica (a query of death), and walking the pool with it would kill
///   every replica. From that loss on no hedge goes out, and an attempt still in flight counts as the one retry.
///   A second such loss fails the request as `.lostTwice` (the caller quarantines it), unless `knownHarmless`
///   says its body was answered recently (so it cannot be what kills replicas): then it may take one more;
/// - after a 503 only if the budget allows, because a 503 is the overload signal and retrying it adds load to
///   a busy pool.
/// The first other response wins and is returned as is (4xx included: they are the client's to see); every
/// other attempt is cancelled. When no attempt is in flight and no candidate is left, the call fails with the
/// last error.
/// Why an attempt was sent: the first, a backup after the hedge delay, or a retry after a failure.
enum HedgedAttemptKind: String, Hashable, Sendable { case primary, hedge, retry }

struct HedgedCallStateMachine<Response> {
    typealias AttemptKind = HedgedAttemptKind

    enum Outcome {
        case response(Response)
        /// The request never reached the replica (connect failed, stream refused, a stale route's 404); another
        /// replica is tried without asking the budget.
        case notSent(AttemptFailure)
        /// The connection died or the stream was reset after the request was sent: the replica may have died of
        /// this very request.
        case lostAfterSent(AttemptFailure)
        /// The replica answered 503 (overloaded, or the version is not loaded there); another replica is tried
        /// if the budget allows.
        case overloaded(AttemptFailure)
        /// Failed in a way that must not be retried (we cannot tell whether it ran).
        case fatal(AttemptFailure)
    }

    /// Why a call gave up, so the caller picks the status without reading messages.
    enum Failure: Equatable {
        /// No replica answered; the last attempt's failure.
        case noAnswer(AttemptFailure)
        /// There was no replica to send to.
        case noReplicas
        case deadlineExceeded
        case clientCancelled
        /// Two attempts lost their connection after the request was sent: a suspected query of death.
        case lostTwice(AttemptFailure)
    }

    enum Action {
        case start(attempt: Int, replica: String, kind: AttemptKind)
        /// `response` won; cancel `losers`.
        case finish(Response, winner: Int, losers: [Int])
        case fail(Failure, cancel: [Int])
        case none
    }

    /// Losses after sending that a request whose body is known to be harmless may take (one more than others).
    static var maxLossesWhenHarmless: Int { 2 }

    private let candidates: [String]
    private let maxAttempts: Int
    private var nextCandidate = 0
    private var inFlight: [Int: String] = [:]
    private var attemptsStarted = 0
    private var finished = false
    private var lastError: AttemptFailure?
    /// Attempts whose connection died after the request was sent.
    private(set) var lossesAfterSend = 0

    init(candidates: [String], maxAttempts: Int = 2) {
        self.candidates = candidates
        self.maxAttempts = max(1, maxAttempts)
    }

    var isFinished: Bool { finished }

    mutating func start() -> Action {
        startNext(kind: .primary) ?? fail(.noReplicas)
    }

    /// The hedge delay passed. `budgetAllows` is asked only when a backup could actually be sent.
    mutating func hedgeTimerFired(budgetAllows: () -> Bool) -> Action {
        guard !finished, lossesAfterSend == 0, inFlight.count < maxAttempts, nextCandidate < candidates.count, budgetAllows() else { return .none }
        return startNext(kind: .hedge) ?? .none
    }

    /// An attempt ended. `budgetAllows` is asked only when a 503 could actually be retried; `knownHarmless` only
    /// when a second loss after sending would otherwise fail the request.
    mutating func attemptFinished(
        _ attempt: Int, _ outcome: Outcome, budgetAllows: () -> Bool = { true }, knownHarmless: () -> Bool = { false }
    ) -> Action {
        guard !finished, inFlight.removeValue(forKey: attempt) != nil else { return .none }
        switch outcome {
        case .response(let response):
            finished = true
            let losers = Array(inFlight.keys).sorted()
            inFlight.removeAll()
            return .finish(response, winner: attempt, losers: losers)
        case .notSent(let failure):
            lastError = failure
            return retryIfAllowed() ?? waitOrFail()
        case .lostAfterSent(let failure):
            lastError = failure
            lossesAfterSend += 1
            if lossesAfterSend >= 2 && !(lossesAfterSend <= Self.maxLossesWhenHarmless && knownHarmless()) {
                return fail(.lostTwice(failure))
            }
            return retryIfAllowed() ?? waitOrFail()
        case .overloaded(let failure):
            lastError = failure
            if nextCandidate < candidates.count, mayStartAfterLoss, budgetAllows(), let retry = startNext(kind: .retry) { return retry }
            return waitOrFail()
        case .fatal(let failure):
            lastError = failure
            return waitOrFail()
        }
    }

    /// The deadline passed: give up and cancel everything in flight.
    mutating func deadlineExpired() -> Action {
        guard !finished else { return .none }
        return fail(.deadlineExceeded)
    }

    /// The client went away.
    mutating func clientCancelled() -> Action {
        guard !finished else { return .none }
        return fail(.clientCancelled)
    }

    /// After a loss the request may be poison: at most one copy of it travels at a time.
    private var mayStartAfterLoss: Bool { lossesAfterSend == 0 || inFlight.isEmpty }

    private mutating func retryIfAllowed() -> Action? {
        guard mayStartAfterLoss else { return nil }
        return startNext(kind: .retry)
    }

    private mutating func waitOrFail() -> Action {
        guard inFlight.isEmpty else { return .none }
        return fail(lastError.map { .noAnswer($0) } ?? .noReplicas)
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

    private mutating func fail(_ failure: Failure) -> Action {
        finished = true
        let cancel = Array(inFlight.keys).sorted()
        inFlight.removeAll()
        return .fail(failure, cancel: cancel)
    }
}
