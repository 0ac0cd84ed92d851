import HedgerowCore
import NIOCore
import NIOHTTP1

/// Collects one request at a time (head, body up to `maxBodyBytes`, end), hands it to the responder and writes
/// the answer, at the end of an HTTP/1.1 connection pipeline. (HTTP/2 requests are collected by
/// `HTTP2ServerStreamTable`, which follows the same rules.)
///
/// Hazards handled here: a body over the limit is answered 413 at once and the rest of it discarded (on HTTP/1.1
/// the connection is then closed, since the peer may still be sending); a client that goes away fires the
/// request's `CancellationSignal`; a response that completes after the channel closed is dropped.
final class HTTPServerRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer)
        /// Body over the limit: already answered, ignoring the rest of the request.
        case discarding
        case responding(CancellationSignal)
    }

    private let responder: any HTTPResponder
    private let maxBodyBytes: Int
    private var state = State.idle

    init(responder: any HTTPResponder, maxBodyBytes: Int) {
        self.responder = responder
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .idle):
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maxBodyBytes {
                state = .discarding
                write(.bodyTooLarge(length, limit: maxBodyBytes), version: head.version, keepAlive: false, context: context)
                return
            }
            state = .receiving(head, context.channel.allocator.buffer(capacity: 0))
        case (.body(var chunk), .receiving(let head, var body)):
            state = .idle  // drop the reference so `body` stays uniquely owned while it grows
            if body.readableBytes + chunk.readableBytes > maxBodyBytes {
                state = .discarding
                write(.bodyTooLarge(body.readableBytes + chunk.readableBytes, limit: maxBodyBytes), version: head.version, keepAlive: false, context: context)
                return
            }
            body.writeBuffer(&chunk)
            state = .receiving(head, body)
        case (.end, .receiving(let head, let body)):
            let cancellation = CancellationSignal()
            state = .responding(cancellation)
            let request = HTTPRequest(method: head.method, target: head.uri, headers: head.headers, body: body)
            let requestContext = RequestContext(eventLoop: context.eventLoop, cancellation: cancellation, isHTTP2: false)
            let keepAlive = head.isKeepAlive
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            responder.respond(to: request, context: requestContext)
                .hop(to: context.eventLoop)
                .whenComplete { result in
                    let (handler, context) = bound.value
                    handler.finish(result, head: head, keepAlive: keepAlive, cancellation: cancellation, context: context)
                }
        case (.end, .discarding):

            state = .idle
        case (.body, .discarding):
            break
        default:
            // A part out of order (a second head before the end): the peer is broken; stop talking to it.
            context.close(promise: nil)
        }
    }

    private func finish(_ result: Result<HTTPResponse, any Error>, head: HTTPRequestHead, keepAlive: Bool, cancellation: CancellationSignal, context: ChannelHandlerContext) {
        cancellation.complete()
        guard case .responding = state else { return }
        state = .idle
        write(.answer(for: result), version: head.version, keepAlive: keepAlive, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .responding(let cancellation) = state {
            state = .idle
            cancellation.fire()
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .responding(let cancellation) = state { cancellation.fire() }
        if let parserError = error as? HTTPParserError {
            // Malformed HTTP/1.1: answer once, then close (the byte stream cannot be trusted any more). The
            // decoder stops at the header limits with `headerOverflow`: that is 431, not 400.
            var response = HTTPResponse.error(HedgerowError(.badRequest, "malformed HTTP request: \(parserError)"))
            if parserError == .headerOverflow {
                response = .error(HedgerowError(.badRequest, "request header fields too large or too many for this server"))
                response.status = .requestHeaderFieldsTooLarge
            }
            state = .discarding
            write(response, version: .http1_1, keepAlive: false, context: context)
            return
        }
        context.close(promise: nil)
    }

    private func write(_ response: HTTPResponse, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var headers = response.headers
        headers.replaceOrAdd(name: "content-length", value: String(response.body.readableBytes))
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        let head = HTTPResponseHead(version: version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if response.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        if !keepAlive {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

@available(*, unavailable)
extension HTTPServerRequestHandler: Sendable {}
