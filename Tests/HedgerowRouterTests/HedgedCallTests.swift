import HedgerowCore
import HedgerowGRPC
import HedgerowHTTP
@testable import HedgerowRouter
import Logging
import NIOCore
import NIOConcurrencyHelpers
import NIOEmbedded
import NIOHTTP1
import Testing

/// `HedgedCall` driven in-process: a scripted transport on an embedded event loop, virtual time, and counts of
/// the attempts opened, answered and reset (the model: grpc-swift's `ClientRPCExecutorTestHarness`).
@Suite struct HedgedCallTests {
    /// Records every request sent; the test answers or fails each by its index.
    final class ScriptedTransport: UpstreamTransport, @unchecked Sendable {
        struct Sent {
            var replica: String
            var request: HTTPRequest
            var promise: EventLoopPromise<HTTPResponse>
            var cancelled = false
            var isProbe: Bool { request.target == AbandonedWorkProbe.request.target }
        }

        private(set) var sent: [Sent] = []

        func send(_ request: HTTPRequest, to replica: String, on eventLoop: any EventLoop, timeout: TimeAmount?) -> UpstreamAttempt {
            let promise = eventLoop.makePromise(of: HTTPResponse.self)
            let index = sent.count
            sent.append(Sent(replica: replica, request: request, promise: promise))
            return UpstreamAttempt(response: promise.futureResult, cancel: { [self] in
                sent[index].cancelled = true
                promise.fail(HTTP2ClientError.cancelled)
            })
        }

        var attempts: [Sent] { sent.filter { !$0.isProbe } }
        var probes: [Sent] { sent.filter(\.isProbe) }
        var cancelled: [String] { attempts.filter(\.cancelled).map(\.replica) }

        func answer(_ attempt: Int, status: HTTPResponseStatus = .ok, body: String = "ok") {
            attempts[attempt].promise.succeed(HTTPResponse(status: status, body: ByteBuffer(string: body)))
        }

        func fail(_ attempt: Int, _ error: HTTP2ClientError) {
            attempts[attempt].promise.fail(error)
        }

        func answerProbe(_ probe: Int) {
            probes[probe].promise.succeed(HTTPResponse(status: .ok))
        }
    }

    struct Harness {
        let loop = EmbeddedEventLoop()
        let transport = ScriptedTransport()
        let pool = UpstreamPool()
        let traffic: ModelTraffic

        init(budgetFloorPerSecond: Double = 0, deposits: Int = 100) {
            var budget = HedgeBudget.Settings()
            budget.floorPerSecond = budgetFloorPerSecond
            traffic = ModelTraffic(model: "digits", budget: budget)
            for _ in 0..<deposits { traffic.deposit(percent: 5, now: 0) }
        }

        func run(
            candidates: [String] = ["a", "b"], hedgeDelay: TimeAmount? = .milliseconds(2), deadline: TimeAmount = .milliseconds(100),
            cancellation: CancellationSignal? = nil
        ) -> EventLoopFuture<HTTPResponse> {
            let call = HedgedCall(
                context: .init(
                    request: HTTPRequest(method: .POST, target: "/v2/models/digits/versions/1/infer"),
                    candidates: candidates, hedgeDelay: hedgeDelay, maxAttempts: 2, deadline: deadline, budgetPercent: 5,
                    recordSuccess: { _ in }, fingerprint: nil
                ),
                traffic: traffic, eventLoop: loop,
                dependencies: .init(transport: transport, pool: pool, containment: QueryOfDeathGuard(), logger: Logger(label: "test"))
            )
            return call.run(cancellation: cancellation)
        }

        func result(_ future: EventLoopFuture<HTTPResponse>) throws -> HTTPResponse? {
            let response = NIOLockedValueBox<HTTPResponse?>(nil)
            future.whenSuccess { answer in response.withLockedValue { $0 = answer } }
            loop.run()
            return response.withLockedValue { $0 }
        }
    }

    @Test func aBackupGoesOutAfterTheHedgeDelayAndTheLoserIsReset() throws {
        let h = Harness()
        let future = h.run()
        h.loop.advanceTime(by: .milliseconds(1))
        #expect(h.transport.attempts.map(\.replica) == ["a"])
        h.loop.advanceTime(by: .milliseconds(1))
        #expect(h.transport.attempts.map(\.replica) == ["a", "b"])
        #expect(h.transport.attempts[1].request.headers.first(name: "hedgerow-attempt") == "2")
        h.transport.answer(1, body: "from b")
        let response = try #require(try h.result(future))
        #expect(String(buffer: response.body) == "from b")
        #expect(response.headers.first(name: "hedgerow-replica") == "b")
        #expect(h.transport.cancelled == ["a"])
        #expect(h.transport.attempts.count == 2)
    }

    /// Issue 12: the reset loser stays counted on its replica until the replica answers a liveness probe sent
    /// after the reset, and the pool charges it the time until then.
    @Test func theResetLoserStaysOutstandingUntilTheProbeAnswers() throws {
        let h = Harness()
        let future = h.run()
        h.loop.advanceTime(by: .milliseconds(2))
        h.transport.answer(1)
        _ = try h.result(future)
        #expect(h.transport.probes.map(\.replica) == ["a"])
        #expect(h.pool.outstanding("a") == 1)
        #expect(h.pool.outstanding("b") == 0)
        h.loop.advanceTime(by: .milliseconds(48))  // the replica thaws 50 ms after the primary was sent
        h.transport.answerProbe(0)
        h.loop.run()
        #expect(h.pool.outstanding("a") == 0)
        #expect(h.pool.latencyEstimate("a", now: h.loop.now.uptimeNanoseconds) == 50_000_000)
        #expect(h.transport.probes.count == 1)
    }

    @Test func withoutBudgetNoBackupGoesOut() throws {
        let h = Harness(deposits: 0)
        let future = h.run()
        h.loop.advanceTime(by: .milliseconds(10))
        #expect(h.transport.attempts.count == 1)
        h.transport.answer(0)
        #expect(try h.result(future)?.status == .ok)
        #expect(h.transport.cancelled.isEmpty && h.transport.probes.isEmpty)
    }

    @Test func aRefusedConnectionIsRetriedAtOnceWithoutTheBudget() throws {
        let h = Harness(deposits: 0)
        let future = h.run(hedgeDelay: nil)
        h.transport.fail(0, .connectFailed(address: "a", reason: "refused"))
        h.loop.run()
        #expect(h.transport.attempts.map(\.replica) == ["a", "b"])
        h.transport.answer(1)
        #expect(try h.result(future)?.status == .ok)
        #expect(h.pool.isEjected("a"))
    }

    @Test func theDeadlineResetsEveryAttemptAndAnswers504() throws {
        let h = Harness()
        let future = h.run(deadline: .milliseconds(30))
        h.loop.advanceTime(by: .milliseconds(30))
        let response = try #require(try h.result(future))
        #expect(response.status == .gatewayTimeout)
        #expect(Set(h.transport.cancelled) == ["a", "b"])
        #expect(Set(h.transport.probes.map(\.replica)) == ["a", "b"])
    }

    @Test func aClientThatLeavesResetsTheAttempts() throws {
        let h = Harness()
        let signal = CancellationSignal()
        let future = h.run(cancellation: signal)
        signal.fire()
        _ = try h.result(future)
        #expect(h.transport.cancelled == ["a"])
    }

    /// After a loss after sending, no backup goes out: at most one copy of a possible query of death travels.
    @Test func aLostConnectionIsRetriedOnceAndNeverHedged() throws {
        let h = Harness()
        let future = h.run(candidates: ["a", "b", "c"])
        h.transport.fail(0, .connectionLost(address: "a"))
        h.loop.run()
        #expect(h.transport.attempts.map(\.replica) == ["a", "b"])
        h.loop.advanceTime(by: .milliseconds(10))
        #expect(h.transport.attempts.count == 2)
        h.transport.fail(1, .connectionLost(address: "b"))
        let response = try #require(try h.result(future))
        #expect(response.status == .serviceUnavailable)
        #expect(h.transport.attempts.count == 2)
    }

    /// A 503 retry draws on the budget like a backup does.
    @Test func anOverloadedReplicaIsRetriedOnlyWithBudget() throws {
        let h = Harness(deposits: 0)
        let future = h.run(hedgeDelay: nil)
        h.transport.answer(0, status: .serviceUnavailable, body: "busy")
        let response = try #require(try h.result(future))
        #expect(response.status == .serviceUnavailable)
        #expect(h.transport.attempts.count == 1)
    }

    /// A worker's gRPC answer is judged by its status, as the same call over HTTP would be: UNAVAILABLE is retried
    /// on another replica, NOT_FOUND for the pinned version is a stale route tried elsewhere, and an error of the
    /// request itself (INVALID_ARGUMENT) is the client's answer, forwarded with its status intact.
    @Test func gRPCAnswersAreJudgedByTheirStatus() throws {
        let unavailable = Harness()
        let retried = unavailable.run(hedgeDelay: nil)
        unavailable.transport.attempts[0].promise.succeed(.grpcError(.unavailable, "busy"))
        unavailable.loop.run()
        #expect(unavailable.transport.attempts.map(\.replica) == ["a", "b"])
        unavailable.transport.attempts[1].promise.succeed(.grpc(Inference_ServerLiveResponse.with { $0.live = true }))
        let answer = try #require(try unavailable.result(retried))
        #expect(answer.grpcStatus == .ok && answer.trailers?.first(name: "grpc-status") == "0")

        let stale = Harness(deposits: 0)
        _ = stale.run(hedgeDelay: nil)
        stale.transport.attempts[0].promise.succeed(.grpcError(.notFound, "model 'digits' version 1 is not loaded on this worker"))
        stale.loop.run()
        #expect(stale.transport.attempts.count == 2, "a stale route is tried elsewhere without budget")

        let invalid = Harness()
        let refused = invalid.run(hedgeDelay: nil)
        invalid.transport.attempts[0].promise.succeed(.grpcError(.invalidArgument, "input 'input': expected shape [N, 64], got [1, 63]"))
        let forwarded = try #require(try invalid.result(refused))
        #expect(invalid.transport.attempts.count == 1)
        #expect(forwarded.grpcStatus == .invalidArgument && forwarded.headers.first(name: "grpc-message")?.contains("'input'") == true)
    }
}
