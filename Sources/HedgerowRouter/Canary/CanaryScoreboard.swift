import HedgerowCore
import HedgerowMetrics
import Metrics
import NIOConcurrencyHelpers

/// This router's running totals of every mirrored canary, by model and candidate version: what `GET /v1/canary`
/// shows, what `CanaryReporter` sends the synchronizer, and what the router judges on its own.
///
/// Totals belong to one canary block (`CanaryPolicy.identity`): an edited block starts from zero. When this router's
/// own totals cross an abort threshold it stops mirroring and splitting to that candidate at once (`effective`),
/// without waiting for the synchronizer's latched abort to come back in the routing table; it stays stopped until
/// the block is edited. One lock guards the totals; it is taken once per request of a model with a canary.
final class CanaryScoreboard: Sendable {
    struct Key: Hashable, Sendable {
        var model: String
        var candidate: Int
    }

    struct Entry: Sendable, Equatable {
        var identity: String
        var tally = CanaryTally()
        /// Why this router stopped sending to the candidate, from its own totals.
        var aborted: String?
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        /// Grows with every change: the reporter sends only when it moved.
        var changes: UInt64 = 0

        mutating func update(_ key: Key, _ canary: CanaryPolicy, _ body: (inout Entry) -> Void) -> Entry {
            var entry = entries[key].flatMap { $0.identity == canary.identity ? $0 : nil } ?? Entry(identity: canary.identity)
            body(&entry)
            entries[key] = entry
            changes &+= 1
            return entry
        }
    }

    /// Identifies this router process in reports (a restart reports under a new id).
    let routerId: String
    private let state = NIOLockedValueBox(State())
    let metrics = Handles()

    init(routerId: String) {
        self.routerId = routerId
    }

    /// The canary as this router applies it: `aborted` is set when this router's own totals crossed a threshold.
    func effective(_ canary: CanaryPolicy, model: String) -> CanaryPolicy {
        guard canary.aborted == nil else { return canary }
        let local = state.withLockedValue { state -> String? in
            guard let entry = state.entries[Key(model: model, candidate: canary.version)], entry.identity == canary.identity else { return nil }
            return entry.aborted
        }
        guard let local else { return canary }
        var stopped = canary
        stopped.aborted = local
        return stopped
    }

    /// A mirror went out (`sent`) or was not sent because the model's in-flight bound or the comparison queue was full.
    func mirror(sent: Bool, model: String, canary: CanaryPolicy) {
        _ = state.withLockedValue { $0.update(Key(model: model, candidate: canary.version), canary) { sent ? ($0.tally.mirrored += 1) : ($0.tally.shed += 1) } }
        metrics.mirrors[.init(model: model, candidate: canary.version, result: sent ? "sent" : "shed")].increment()
    }

    /// A mirror got no answer within its deadline, or a busy worker shed it: no sample.
    func unanswered(model: String, canary: CanaryPolicy) {
        _ = state.withLockedValue { $0.update(Key(model: model, candidate: canary.version), canary) { $0.tally.timedOut += 1 } }
        metrics.comparisons[.init(model: model, candidate: canary.version, result: "no_answer")].increment()
    }

    /// Counts one compared sample; returns the abort reason if this sample made this router's totals cross a threshold.
    func record(_ outcome: PredictionComparison.Outcome, model: String, canary: CanaryPolicy) -> String? {
        let key = Key(model: model, candidate: canary.version)
        let (entry, newly) = state.withLockedValue { state -> (Entry, Bool) in
            var newly = false
            let entry = state.update(key, canary) { entry in
                entry.tally.record(outcome)
                if entry.aborted == nil, let reason = entry.tally.verdict(canary.abort) {
                    entry.aborted = reason
                    newly = true
                }
            }
            return (entry, newly)
        }
        let labels = Handles.Labels(model: model, candidate: canary.version, result: outcome.result)
        metrics.comparisons[labels].increment()
        if let difference = outcome.maxAbsDifference { metrics.maxAbsDifference[labels.withoutResult].record(difference) }
        return newly ? entry.aborted : nil
    }

    /// Every canary's totals, and the change count they were taken at.
    func snapshot() -> (changes: UInt64, entries: [CanaryReport.Entry]) {
        state.withLockedValue { state in
            (state.changes, state.entries.sorted { ($0.key.model, $0.key.candidate) < ($1.key.model, $1.key.candidate) }.map {
                CanaryReport.Entry(model: $0.key.model, candidate: $0.key.candidate, identity: $0.value.identity, tally: $0.value.tally, aborted: $0.value.aborted)
            })
        }
    }

    /// Handles of the canary metrics, made once per label set.
    struct Handles: Sendable {
        struct Labels: Hashable, Sendable {
            var model: String
            var candidate: Int
            var result: String
            var withoutResult: Labels { Labels(model: model, candidate: candidate, result: "") }
            var dimensions: [(String, String)] { [("model", model), ("candidate", String(candidate))] + (result.isEmpty ? [] : [("result", result)]) }
        }

        let comparisons = MetricHandles<Labels, Counter> { Counter(label: MetricNames.routerCanaryComparisons, dimensions: $0.dimensions) }
        let mirrors = MetricHandles<Labels, Counter> { Counter(label: MetricNames.routerCanaryMirrors, dimensions: $0.dimensions) }
        let maxAbsDifference = MetricHandles<Labels, Recorder> {
            Recorder(label: MetricNames.routerCanaryMaxAbsDifference, dimensions: $0.dimensions, aggregate: true)
        }
        let mirrorDuration = MetricHandles<Labels, Timer> { Timer(label: MetricNames.routerCanaryMirrorDuration, dimensions: $0.dimensions) }
    }
}
