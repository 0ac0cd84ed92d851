import HedgerowCore
import HedgerowHTTP
@testable import HedgerowRouter
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// `CanaryMirror` on a real event loop with a transport that answers at once from a script: what is sent (one
/// attempt, marked as a shadow, with the mirror's own deadline), how answers are judged, and what is shed.
@Suite struct CanaryMirrorTests {
    final class AnsweringTransport: UpstreamTransport, Sendable {
        let sent = NIOLockedValueBox<[(replica: String, request: HTTPRequest, timeout: TimeAmount?)]>([])
        let answer: @Sendable () -> Result<HTTPResponse, any Error>

        init(_ answer: @escaping @Sendable () -> Result<HTTPResponse, any Error>) {
            self.answer = answer
        }

        func send(_ request: HTTPRequest, to replica: String, on eventLoop: any EventLoop, timeout: TimeAmount?) -> UpstreamAttempt {
            sent.withLockedValue { $0.append((replica, request, timeout)) }
            return UpstreamAttempt(response: eventLoop.makeCompletedFuture(answer()), cancel: {})
        }
    }

    static func v2(_ scores: [Double]) -> HTTPResponse {
        let body = #"{"model_name":"digits","outputs":[{"name":"probabilities","shape":[1,\#(scores.count)],"datatype":"FP32","data":\#(scores)}]}"#
        return HTTPResponse(status: .ok, body: ByteBuffer(string: body))
    }

    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let canary = try! CanaryPolicy(version: 2, splitPercent: 0, mirrorPercent: 100, mirrorTimeoutMs: 250)

    func judge(_ candidate: @escaping @Sendable () -> Result<HTTPResponse, any Error>, stable: HTTPResponse = v2([0.1, 0.9]))
        async throws -> (CanaryMirror.Judgement?, AnsweringTransport, CanaryMirror) {
        let transport = AnsweringTransport(candidate)
        let mirror = CanaryMirror(scoreboard: CanaryScoreboard(routerId: "r"), transport: transport, logger: Logger(label: "test"))
        let traffic = ModelTraffic(model: "digits")
        let loop = group.next()
        let request = HTTPRequest(method: .POST, target: "/v2/models/digits/versions/2/infer", headers: ["hedgerow-attempt": "2"])
        let judgement = try await loop.flatSubmit { () -> EventLoopFuture<CanaryMirror.Judgement?> in
            guard let inFlight = mirror.start(request, replicas: ["w1:1", "w2:1"], model: "digits", canary: canary, traffic: traffic, limit: 8, on: loop) else {
                return loop.makeSucceededFuture(nil)
            }
            return mirror.finish(inFlight, stable: stable, traffic: traffic, on: loop).map { Optional($0) }
        }.get()
        return (judgement, transport, mirror)
    }

    @Test func oneShadowAttemptWithItsOwnDeadlineIsSentAndJudged() async throws {
        let (judgement, transport, mirror) = try await judge({ .success(Self.v2([0.9, 0.1])) })
        let sent = transport.sent.withLockedValue { $0 }
        #expect(sent.count == 1 && sent[0].replica == "w1:1" && sent[0].timeout == .milliseconds(250))
        #expect(sent[0].request.headers.first(name: "hedgerow-shadow") == "1" && sent[0].request.headers.first(name: "hedgerow-attempt") == nil)
        #expect(judgement?.outcome?.result == "top1_disagree" && judgement?.isDisagreement == true)
        let tally = try #require(mirror.scoreboard.snapshot().entries.first?.tally)
        #expect(tally.mirrored == 1 && tally.compared == 1 && tally.top1Disagreements == 1 && abs(tally.maxAbsDifference - 0.8) < 1e-9)
        try await group.shutdownGracefully()
    }

    @Test func timeoutsAndBusyWorkersAreNoSamplesButUnreachableReplicasAreErrors() async throws {
        let (timedOut, _, m1) = try await judge({ .failure(HTTP2ClientError.timedOut(address: "w1:1")) })
        #expect(timedOut?.unanswered == true && m1.scoreboard.snapshot().entries.first?.tally.timedOut == 1)
        let (shed, _, m2) = try await judge({ .success(HTTPResponse(status: .serviceUnavailable)) })
        #expect(shed?.unanswered == true && m2.scoreboard.snapshot().entries.first?.tally.samples == 0)
        let (lost, _, m3) = try await judge({ .failure(HTTP2ClientError.connectionLost(address: "w1:1")) })
        #expect(lost?.outcome == .candidateFailed(status: 502) && m3.scoreboard.snapshot().entries.first?.tally.candidateErrors == 1)
        // Stable failed: nothing to compare, no sample.
        let (void, _, m4) = try await judge({ .success(Self.v2([0.1, 0.9])) }, stable: HTTPResponse(status: .internalServerError))
        #expect(void?.outcome == nil && m4.scoreboard.snapshot().entries.first?.tally.samples == 0)
        try await group.shutdownGracefully()
    }

    @Test func mirrorsAreShedFirstAtTheModelsInFlightBound() async throws {
        let transport = AnsweringTransport { .success(Self.v2([0.1, 0.9])) }
        let mirror = CanaryMirror(scoreboard: CanaryScoreboard(routerId: "r"), transport: transport, logger: Logger(label: "test"))
        let traffic = ModelTraffic(model: "digits")
        let loop = group.next()
        // 7 served requests of a bound of 8: one mirror fits; then served traffic fills the bound and mirrors are shed.
        for _ in 0..<7 { #expect(traffic.admit(limit: 8)) }
        let request = HTTPRequest(method: .POST, target: "/v2/models/digits/versions/2/infer")
        let first = try await loop.submit { mirror.start(request, replicas: ["w1:1"], model: "digits", canary: canary, traffic: traffic, limit: 8, on: loop) }.get()
        #expect(first != nil)
        let second = try await loop.submit { mirror.start(request, replicas: ["w1:1"], model: "digits", canary: canary, traffic: traffic, limit: 8, on: loop) }.get()
        #expect(second == nil)
        #expect(traffic.admit(limit: 8), "a mirror never turns a served request away")
        #expect(mirror.scoreboard.snapshot().entries.first.map { ($0.tally.mirrored, $0.tally.shed) } ?? (0, 0) == (1, 1))
        try await group.shutdownGracefully()
    }
}
