import HedgerowCore
import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// The requests of one HTTP/2 server connection, kept as entries of a table at the end of the connection's
/// pipeline instead of one child channel (with its own pipeline and HTTP/1 codec) per stream: per-stream channels
/// were the largest item in the profiles of both the router and the worker. `NIOHTTP2Handler` still owns the
/// protocol (state machines, HPACK, flow control of what we send, every DoS limit); this table collects each
/// request, hands it to the responder and writes the answer as HEADERS and DATA frames.
///
/// It does for HTTP/2 what `HTTPServerRequestHandler` does for HTTP/1.1: a body over `maxBodyBytes` is answered
/// 413 at once (by content-length, or as DATA arrives) and the rest of it dropped; a client that resets the stream
/// or drops the connection before the answer fires the request's `CancellationSignal`; an answer that completes
/// after that is dropped. Stream admission and connection idling stay in `HTTP2IdleAndStreamLimitHandler`, just
/// before this handler: frames of a stream it refused never get here.
///
/// Invariant: an entry exists from the stream's first HEADERS frame until swift-nio-http2 reports the stream
/// closed; all of it runs on the connection's event loop.
final class HTTP2ServerStreamTable: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private enum Stream {
        case receiving(method: HTTPMethod, target: String, headers: HTTPHeaders, body: ByteBuffer?)
        /// Answered 413 already; what else arrives for it is dropped.
        case discarding
        case responding(CancellationSignal)
        /// Answered; waiting for swift-nio-http2 to report the stream closed.
        case answered
    }

    private let responder: any HTTPResponder
    private let maxBodyBytes: Int
    private var streams: [Int32: Stream] = [:]
    private var context: ChannelHandlerContext?

    init(responder: any HTTPResponder, maxBodyBytes: Int) {
        self.responder = responder
        self.maxBodyBytes = maxBodyBytes
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let id = Int32(frame.streamID)
        switch frame.payload {
        case .headers(let payload):
            if let stream = streams[id] {
                // A second header block is the request's trailers; Hedgerow reads none, but it may end the request.
                if payload.endStream, case .receiving = stream { dispatch(id, context: context) }
                return
            }
            receiveHead(payload.headers, endStream: payload.endStream, stream: id, context: context)
        case .data(let payload):
            guard case .receiving(let method, let target, let headers, var body) = streams[id],
                  case .byteBuffer(var chunk) = payload.data else { return }
            streams[id] = .discarding  // keep `body` uniquely referenced while it grows
            let size = (body?.readableBytes ?? 0) + chunk.readableBytes
            guard size <= maxBodyBytes else {
                answerTooLarge(size, stream: id, clientDone: payload.endStream, grpc: headers.isGRPC, context: context)
                return
            }
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
            streams[id] = .receiving(method: method, target: target, headers: headers, body: body)
            if payload.endStream { dispatch(id, context: context) }
        default:
            break  // connection frames and RST_STREAM: NIOHTTP2Handler acts on them; closes arrive as events
        }
    }

    private func receiveHead(_ block: HPACKHeaders, endStream: Bool, stream id: Int32, context: ChannelHandlerContext) {
        // swift-nio-http2 validated the block (pseudo-headers present and first, names lower case).
        guard let methodName = block.first(name: ":method"), let target = block.first(name: ":path") else {
            streams[id] = .answered
            write(.error(HedgerowError(.badRequest, "HTTP/2 request without :method or :path")), stream: id, context: context)
            return
        }
        var headers = HTTPHeaders()
        if let authority = block.first(name: ":authority") { headers.add(name: "host", value: authority) }
        HTTP2Fields.regularFields(of: block, into: &headers)
        if let length = headers.first(name: "content-length").flatMap(Int.init), length > maxBodyBytes {
            answerTooLarge(length, stream: id, clientDone: endStream, grpc: headers.isGRPC, context: context)
            return
        }
        streams[id] = .receiving(method: HTTPMethod(rawValue: methodName), target: target, headers: headers, body: nil)
        if endStream { dispatch(id, context: context) }
    }

    /// 413 at once; if the client is still sending, RST_STREAM NO_ERROR after the answer asks it to stop
    /// (RFC 9113 §8.1), so that the rest of the body is neither sent nor read.
    private func answerTooLarge(_ bytes: Int, stream id: Int32, clientDone: Bool, grpc: Bool, context: ChannelHandlerContext) {
        streams[id] = .discarding
        write(.bodyTooLarge(bytes, limit: maxBodyBytes, grpc: grpc), stream: id, context: context)
        if !clientDone {
            context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: HTTP2StreamID(id), payload: .rstStream(.noError))), promise: nil)
        }
    }

    private func dispatch(_ id: Int32, context: ChannelHandlerContext) {
        guard case .receiving(let method, let target, let headers, let body) = streams[id] else { return }
        let cancellation = CancellationSignal()
        streams[id] = .responding(cancellation)
        let request = HTTPRequest(method: method, target: target, headers: headers, body: body ?? ByteBuffer())
        let requestContext = RequestContext(eventLoop: context.eventLoop, cancellation: cancellation, isHTTP2: true)
        let loop = context.eventLoop
        let table = NIOLoopBound(self, eventLoop: loop)
        responder.respond(to: request, context: requestContext).hop(to: loop).whenComplete { result in
            table.value.finish(id, result: result, cancellation: cancellation)
        }
    }

    private func finish(_ id: Int32, result: Result<HTTPResponse, any Error>, cancellation: CancellationSignal) {
        cancellation.complete()
        guard case .responding = streams[id], let context else { return }  // the client left: nothing to answer
        streams[id] = .answered
        write(.answer(for: result), stream: id, context: context)
    }

    private func write(_ response: HTTPResponse, stream id: Int32, context: ChannelHandlerContext) {
        let streamID = HTTP2StreamID(id)
        var block = HPACKHeaders()
        block.reserveCapacity(response.headers.count + 2)
        block.add(name: ":status", value: String(response.status.code))
        HTTP2Fields.append(response.headers, to: &block)
        // gRPC frames its own messages and its answer may end in trailers: no content-length.
        if !response.headers.isGRPC { block.add(name: "content-length", value: String(response.body.readableBytes)) }
        let hasBody = response.body.readableBytes > 0
        let trailers = response.trailers.map { fields -> HPACKHeaders in
            var block = HPACKHeaders()
            HTTP2Fields.append(fields, to: &block)
            return block
        }
        // Without a body, trailers travel in the one header block (gRPC's "trailers-only" answer).
        if !hasBody, let trailers { block.add(contentsOf: trailers) }
        context.write(wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: block, endStream: !hasBody)))), promise: nil)
        if hasBody {
            context.write(wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: .data(.init(data: .byteBuffer(response.body), endStream: trailers == nil)))), promise: nil)
            if let trailers {
                context.write(wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: trailers, endStream: true)))), promise: nil)
            }
        }
        context.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let closed as StreamClosedEvent:
            // Closed before the answer went out: the client reset it, or swift-nio-http2 did on a stream error.
            if case .responding(let cancellation) = streams.removeValue(forKey: Int32(closed.streamID)) { cancellation.fire() }
        case let window as NIOHTTP2WindowUpdatedEvent:
            guard window.streamID == .rootStream || streams[Int32(window.streamID)] != nil,
                  let update = HTTP2Fields.windowUpdate(for: window) else { break }
            context.writeAndFlush(wrapOutboundOut(update), promise: nil)
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let open = streams
        streams = [:]
        for case .responding(let cancellation) in open.values { cancellation.fire() }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream error (a malformed frame on one stream): swift-nio-http2 reset the stream and reports it closed
        // next. Connection errors were already seen by the idle handler before this one.
        if let streamError = error as? NIOHTTP2Errors.StreamError,
           case .responding(let cancellation) = streams[Int32(streamError.streamID)] {
            cancellation.fire()
        }
    }
}

@available(*, unavailable)
extension HTTP2ServerStreamTable: Sendable {}
