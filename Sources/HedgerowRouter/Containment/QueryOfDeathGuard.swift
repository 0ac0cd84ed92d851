import HedgerowCore
import NIOConcurrencyHelpers

/// The router's shared `PoisonQuarantine`, behind one lock (two short critical sections per inference request:
/// the quarantine check and the "answered" record). See `HedgedCallStateMachine` for when a request becomes a
/// suspect and Hedging.md for the whole story.
final class QueryOfDeathGuard: Sendable {
    private let state: NIOLockedValueBox<PoisonQuarantine>
    let settings: PoisonQuarantine.Settings

    init(settings: PoisonQuarantine.Settings = .init()) {
        self.settings = settings
        self.state = NIOLockedValueBox(PoisonQuarantine(settings: settings))
    }

    /// The error to answer at once if this request is quarantined, else nil.
    func refusal(for fingerprint: RequestFingerprint, now: UInt64) -> HedgerowError? {
        guard let left = state.withLockedValue({ $0.isEmpty ? nil : $0.remaining(fingerprint, now: now) }) else { return nil }
        let seconds = max(1, Int((left + 999_999_999) / 1_000_000_000))
        return HedgerowError(.quarantined,
            "model '\(fingerprint.model)': this request (fingerprint \(fingerprint)) lost its connection on two replicas in a row, "
            + "so it may crash the workers that run it; it is refused without reaching a worker for \(seconds) s more")
    }

    func recordAnswered(_ fingerprint: RequestFingerprint, now: UInt64) {
        state.withLockedValue { $0.recordAnswered(fingerprint, now: now) }
    }

    func isKnownHarmless(_ fingerprint: RequestFingerprint, now: UInt64) -> Bool {
        state.withLockedValue { $0.isKnownHarmless(fingerprint, now: now) }
    }

    /// Quarantines a suspected query of death; true if it is now refused (false when known harmless or off).
    func quarantine(_ fingerprint: RequestFingerprint, now: UInt64) -> Bool {
        state.withLockedValue { $0.quarantine(fingerprint, now: now) }
    }
}
