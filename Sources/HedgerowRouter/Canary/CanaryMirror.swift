import HedgerowCore
import HedgerowHTTP
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Mirrors a share of stable's requests to a canary and judges the candidate's answers against stable's.
///
/// A mirror is one attempt to one candidate replica, sent when stable's 2xx answer has gone to the client (so it
/// never competes with the request it copies, and a request stable failed is not mirrored): never hedged or
/// retried, never paid from the hedge or retry budget, bounded by the canary's `mirrorTimeoutMs`, and marked
/// `hedgerow-shadow: 1` so that the worker queues it behind served requests. It is shed before it is sent when the
/// model's in-flight bound is near (`ModelTraffic.admitMirror`) or when comparisons are backed up. Mirrors are not reported to the `UpstreamPool`: replica costs and ejections follow served traffic only.
///
/// When both answers are in, `PredictionComparison` runs on a thread pool at the lowest CPU priority (never on an
/// event loop: its cost grows with the answers; see `BackgroundPriority`), the result goes to the `CanaryScoreboard`, and a record goes to the inference log when the
/// request was sampled or the candidate disagreed (disagreements are rate-capped per model).
final class CanaryMirror: Sendable {
    /// Comparisons waiting for or running on the thread pool; mirrors past this are shed.
    static let maxPendingComparisons = 256
    /// Disagreement records logged per model per second, whatever the sampling.
    static let maxDisagreementLogsPerSecond = 20

    let scoreboard: CanaryScoreboard
    private let transport: any UpstreamTransport
    private let threads: NIOThreadPool
    private let logger: Logger
    private let pending = NIOLockedValueBox(0)
    private let disagreementLogs = NIOLockedValueBox<[String: (second: UInt64, count: Int)]>([:])

    init(scoreboard: CanaryScoreboard, transport: any UpstreamTransport, threads: NIOThreadPool = .singleton, logger: Logger) {
        self.scoreboard = scoreboard
        self.transport = transport
        self.threads = threads
        self.logger = logger
    }

    /// A mirror on its way.
    struct InFlight: Sendable {
        let model: String
        let canary: CanaryPolicy
        let replica: String
        let attempt: UpstreamAttempt
        let started: NIODeadline
    }

    /// What became of one mirror, for the inference log.
    struct Judgement: Sendable {
        var outcome: PredictionComparison.Outcome?
        var replica: String
        var status: Int?
        var latencyMs: Double
        var response: HTTPResponse?
        /// Not a sample: the mirror timed out or was shed by a busy worker (or stable's answer was not 2xx).
        var unanswered: Bool { outcome == nil }
        var isDisagreement: Bool { outcome.map { $0.result != "agree" } ?? false }
    }

    /// Sends a copy of `request` (already pinned to the candidate's path) to the first of `replicas`, or counts it
    /// shed. `traffic` holds the mirror's in-flight slot until `finish`.
    func start(
        _ request: HTTPRequest, replicas: [String], model: String, canary: CanaryPolicy, traffic: ModelTraffic, limit: Int, on eventLoop: any EventLoop
    ) -> InFlight? {
        guard let replica = replicas.first else {
            scoreboard.mirror(sent: false, model: model, canary: canary)
            return nil
        }
        let reserved = pending.withLockedValue { count -> Bool in
            guard count < Self.maxPendingComparisons else { return false }
            count += 1
            return true
        }
        guard reserved else {
            scoreboard.mirror(sent: false, model: model, canary: canary)
            return nil
        }
        guard traffic.admitMirror(limit: limit) else {
            pending.withLockedValue { $0 -= 1 }
            scoreboard.mirror(sent: false, model: model, canary: canary)
            return nil
        }
        var shadow = request
        shadow.headers.replaceOrAdd(name: "hedgerow-shadow", value: "1")
        shadow.headers.remove(name: "hedgerow-attempt")
        scoreboard.mirror(sent: true, model: model, canary: canary)
        let attempt = transport.send(shadow, to: replica, on: eventLoop, timeout: .milliseconds(Int64(canary.mirrorTimeoutMs)))
        return InFlight(model: model, canary: canary, replica: replica, attempt: attempt, started: .now())
    }

    /// Stable's answer is in: waits for the mirror, compares on the thread pool, records, and completes with the
    /// judgement (on `eventLoop`). The router mirrors only requests stable answered 2xx; an answer that is not
    /// 2xx here cancels the mirror (nothing to compare) and counts nothing.
    func finish(_ mirror: InFlight, stable: HTTPResponse, traffic: ModelTraffic, on eventLoop: any EventLoop) -> EventLoopFuture<Judgement> {
        let stableAnswered = (200..<300).contains(stable.status.code)
        if !stableAnswered { mirror.attempt.cancel() }
        let judged = mirror.attempt.response.hop(to: eventLoop).map { Result<HTTPResponse, any Error>.success($0) }.recover { .failure($0) }
            .flatMap { [self] result -> EventLoopFuture<Judgement> in
            traffic.releaseMirror()
            let took = NIODeadline.now() - mirror.started
            let labels = CanaryScoreboard.Handles.Labels(model: mirror.model, candidate: mirror.canary.version, result: "")
            let candidate = try? result.get()
            if candidate != nil { scoreboard.metrics.mirrorDuration[labels].recordNanoseconds(took.nanoseconds) }
            let judgement = Judgement(outcome: nil, replica: mirror.replica, status: candidate.map { Int($0.status.code) },
                                      latencyMs: Double(took.nanoseconds) / 1e6, response: candidate)
            guard stableAnswered else { return eventLoop.makeSucceededFuture(judgement) }
            let candidateStatus: Int
            switch result {
            case .success(let response) where response.status != .serviceUnavailable:
                candidateStatus = Int(response.status.code)
            case .failure(let error as HTTP2ClientError) where !error.isUnanswered:
                // The candidate's replica could not be reached or dropped the request: an error of the candidate.
                candidateStatus = 502
            default:
                // No answer in time, or a busy worker shed the shadow: says nothing about what the candidate computes.
                scoreboard.unanswered(model: mirror.model, canary: mirror.canary)
                return eventLoop.makeSucceededFuture(judgement)
            }
            let stableBody = stable.body
            let candidateBody = candidate?.body ?? ByteBuffer()
            let tolerance = mirror.canary.compare
            return threads.runIfActive(eventLoop: eventLoop) {
                BackgroundPriority.lowerCurrentThread()
                return PredictionComparison.compare(
                    stable: Array(stableBody.readableBytesView), candidate: Array(candidateBody.readableBytesView),
                    candidateStatus: candidateStatus, tolerance: tolerance
                )
            }.map { [self] outcome in
                var judgement = judgement
                judgement.outcome = outcome
                if let reason = scoreboard.record(outcome, model: mirror.model, canary: mirror.canary) {
                    logger.error("canary \(mirror.model) v\(mirror.canary.version): this router stops mirroring and splitting to it: \(reason); the synchronizer latches the abort",
                                 metadata: ["model": "\(mirror.model)"])
                }
                return judgement
            }.recover { _ in judgement }
        }
        // The comparison slot `start` reserved is given back once, however the mirror ended.
        judged.whenComplete { [pending] _ in pending.withLockedValue { $0 -= 1 } }
        return judged
    }

    /// Whether one more disagreement record of `model` may be logged this second.
    func mayLogDisagreement(model: String, now: UInt64) -> Bool {
        let second = now / 1_000_000_000
        return disagreementLogs.withLockedValue { logs in
            var entry = logs[model] ?? (second, 0)
            if entry.second != second { entry = (second, 0) }
            guard entry.count < Self.maxDisagreementLogsPerSecond else { return false }
            entry.count += 1
            logs[model] = entry
            return true
        }
    }
}

extension HTTP2ClientError {
    /// The mirror's own deadline passed, or the router reset it: no answer, no verdict on the candidate.
    fileprivate var isUnanswered: Bool {
        switch self {
        case .timedOut, .cancelled: true
        default: false
        }
    }
}

extension InferenceLogRecord.Canary {
    init(_ judgement: CanaryMirror.Judgement, candidate: Int) {
        var detail: String?
        var outputs: [PredictionComparison.OutputComparison]?
        switch judgement.outcome {
        case .compared(let compared)?: outputs = compared
        case .incomparable(let why)?: detail = why
        case .candidateFailed(let status)?: detail = "the candidate answered \(status)"
        case nil: detail = "no answer within the mirror's deadline, or shed by a busy worker"
        }
        self.init(
            candidate: candidate, result: judgement.outcome?.result ?? "no_answer", detail: detail, replica: judgement.replica,
            status: judgement.status, latencyMs: judgement.latencyMs, outputs: outputs,
            response: judgement.response.map { .init($0.body, contentType: $0.headers.first(name: "content-type")) }
        )
    }
}
