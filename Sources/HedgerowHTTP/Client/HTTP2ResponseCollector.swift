import NIOCore
import NIOHTTP1
import NIOHTTP2

/// Sits at the end of one client stream's pipeline and gathers the response (head, body, end) into an
/// `HTTPResponse`. If the stream closes before the end (the peer reset it, the connection died, or we cancelled
/// it) the promise fails instead; the promise is completed exactly once.
final class HTTP2ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<HTTPResponse>
    private let address: String
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    private var completed = false

    init(promise: EventLoopPromise<HTTPResponse>, address: String) {
        self.promise = promise
        self.address = address
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body(var chunk):
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard let head, !completed else { return }
            completed = true
            // Do not close the stream here: NIO closes it once END_STREAM is processed. Closing first would send
            // RST_STREAM on a finished stream, which servers count as a protocol "glitch" (NIO drops the
            // connection after 200 of them).
            promise.succeed(HTTPResponse(status: head.status, headers: head.headers, body: body ?? ByteBuffer()))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let closed = error as? NIOHTTP2Errors.StreamClosed, closed.errorCode == .refusedStream {
            // REFUSED_STREAM (sent by the peer, or by NIO for streams past a GOAWAY's last stream id): HTTP/2
            // guarantees the request was not processed.
            fail(HTTP2ClientError.streamRefused(address: address, reason: "\(error)"))
        } else {
            fail(HTTP2ClientError.streamReset(address: address, reason: "\(error)"))
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(HTTP2ClientError.connectionLost(address: address))
        context.fireChannelInactive()
    }

    private func fail(_ error: HTTP2ClientError) {
        guard !completed else { return }
        completed = true
        promise.fail(error)
    }
}

@available(*, unavailable)
extension HTTP2ResponseCollector: Sendable {}
