import HedgerowCore
import HedgerowGRPC
import HedgerowHTTP
import NIOCore
import Testing

@Suite struct GRPCStatusTests {
    @Test func hedgerowErrorsMapToTheCodesClientsExpect() {
        let expected: [(HedgerowError.Kind, GRPCStatusCode)] = [
            (.badRequest, .invalidArgument), (.notFound, .notFound), (.unavailable, .unavailable),
            (.deadlineExceeded, .deadlineExceeded), (.overloaded, .resourceExhausted), (.payloadTooLarge, .resourceExhausted),
            (.internalError, .internalError), (.methodNotAllowed, .unimplemented),
        ]
        for (kind, code) in expected {
            let response = HTTPResponse.grpcError(HedgerowError(kind, "x"))
            #expect(response.grpcStatus == code, "\(kind)")
        }
    }

    @Test func theRouterJudgesAGRPCAnswerByItsStatus() {
        #expect(HTTPResponse.grpcError(.unavailable, "busy").outcomeStatus == 503)
        #expect(HTTPResponse.grpcError(.notFound, "gone").outcomeStatus == 404)
        #expect(HTTPResponse.grpc(Inference_ServerLiveResponse.with { $0.live = true }).outcomeStatus == 200)
        // A gRPC answer that never says its status is broken.
        #expect(HTTPResponse(status: .ok, headers: ["content-type": "application/grpc"]).outcomeStatus == 500)
        #expect(HTTPResponse(status: .serviceUnavailable).outcomeStatus == 503)
    }

    @Test func aJSONErrorBecomesATrailersOnlyAnswerWithItsMessage() {
        let json = HTTPResponse.error(HedgerowError(.badRequest, "input 'x': expected shape [-1, 64], got [1, 3]"))
        let answer = json.asGRPC()
        #expect(answer.status == .ok)
        #expect(answer.grpcStatus == .invalidArgument)
        #expect(answer.headers.first(name: "grpc-message") == "input 'x': expected shape [-1, 64], got [1, 3]")
        #expect(answer.body.readableBytes == 0)
    }

    @Test func messagesArePercentEncoded() {
        #expect(GRPCStatusMessage.encode("100% über\n") == "100%25 %C3%BCber%0A")
    }

    @Test func timeoutsRoundUpToWholeMilliseconds() {
        #expect(GRPCTimeout.milliseconds("50m") == 50)
        #expect(GRPCTimeout.milliseconds("100u") == 1)
        #expect(GRPCTimeout.milliseconds("2S") == 2000)
        #expect(GRPCTimeout.milliseconds("1H") == 3_600_000)
        for bad in [nil, "", "m", "12x", "-5m", "123456789m"] as [String?] {
            #expect(GRPCTimeout.milliseconds(bad) == nil, "\(bad ?? "nil")")
        }
    }
}
